import { describe, expect, it } from "vitest";

import {
  EVENTS,
  SEARCH_ID,
  answer,
  partialResults,
  provisionalResumo,
  request,
  resumo,
  status,
  ufRows,
} from "../test/fixtures";
import type { BuscaResponse, ProgressEvent, SearchStatus } from "../types";
import {
  type SearchAction,
  type SearchState,
  initialSearchState,
  isRunning,
  isSettled,
  isPartial,
  laterEventId,
  partialCount,
  partialRows,
  searchReducer,
  ufFailures,
} from "./searchState";

type Step =
  | keyof typeof EVENTS
  | { answer: BuscaResponse }
  | { status: SearchStatus }
  | { id: string; event: ProgressEvent };

function toAction(step: Step): SearchAction {
  if (typeof step === "string") return { type: "event", searchId: SEARCH_ID, ...EVENTS[step] };
  if ("event" in step) return { type: "event", searchId: SEARCH_ID, ...step };
  if ("answer" in step) return { type: "answered", searchId: SEARCH_ID, answer: step.answer };
  return { type: "status", searchId: SEARCH_ID, status: step.status };
}

/** The state after starting the search and applying `steps` in order. */
function run(...steps: Step[]): SearchState {
  const started = searchReducer(initialSearchState, { type: "started", searchId: SEARCH_ID, request: request() });
  return steps.map(toAction).reduce(searchReducer, started);
}

const queued = answer(); // `processamento: "fila"`: summary and Excel still processing
const FULL_RUN: Step[] = [
  "connecting",
  "fetchingSP",
  "fetchingRJ",
  "filtering",
  "resultsReady",
  { answer: queued },
  "llmReady",
  "excelReady",
  "complete",
];

describe("searchReducer", () => {
  it("starts a search from a clean state", () => {
    const state = run();
    expect(state.searchId).toBe(SEARCH_ID);
    expect(state.stage).toBe("connecting");
    expect(state.progress).toBe(0);
    expect(isRunning(state)).toBe(true);
    expect(isSettled(state)).toBe(false);
  });

  it("shows the answer at once, with its summary as a provisional preview", () => {
    const state = run({ answer: queued });
    expect(state.answer?.licitacoes).toHaveLength(2);
    expect(state.totalFiltrado).toBe(2);
    expect(state.stage).toBe("results_ready");
    expect(state.progress).toBe(70);
    expect(state.llmStatus).toBe("processing");
    expect(state.resumo).toEqual(provisionalResumo);
    expect(state.resumoProvisional).toBe(true);
    expect(state.excelStatus).toBe("processing");
    expect(isSettled(state)).toBe(false);
  });

  it("answer then events: the LLM summary replaces the preview, the Excel link arrives, complete", () => {
    let state = run("connecting", { answer: queued }, "llmReady");
    expect(state.llmStatus).toBe("ready");
    expect(state.resumo).toEqual(resumo());
    expect(state.resumoProvisional).toBe(false);
    expect(state.progress).toBe(85);

    state = run("connecting", { answer: queued }, "llmReady", "excelReady");
    expect(state.excelStatus).toBe("ready");
    expect(state.excelUrl).toBe("/v1/arquivos/abc.xlsx?expira=1&token=t");
    expect(isSettled(state)).toBe(true);
    expect(state.complete).toBe(true);

    state = run(...FULL_RUN);
    expect(state.stage).toBe("complete");
    expect(state.progress).toBe(100);
    expect(state.lastEventId).toBe(EVENTS.complete.id);
    expect(isRunning(state)).toBe(false);
  });

  it("events then answer (inline mode): the answer fills the results and keeps what the events settled", () => {
    const inline = answer({
      processamento: "inline",
      llm_status: "ready",
      resumo: resumo(),
      excel_status: "ready",
      excel_url: "/v1/arquivos/abc.xlsx?expira=1&token=t",
    });
    const state = run(
      "connecting",
      "fetchingSP",
      "fetchingRJ",
      "filtering",
      "resultsReady",
      "llmReady",
      "excelReady",
      "complete",
      { answer: inline },
    );
    expect(state.answer).toBe(inline);
    expect(state.stage).toBe("complete");
    expect(state.progress).toBe(100);
    expect(state.resumo).toEqual(resumo());
    expect(state.excelUrl).toBe("/v1/arquivos/abc.xlsx?expira=1&token=t");
  });

  it("events then a late answer still processing: the answer's preview never replaces the final summary", () => {
    const state = run("resultsReady", "llmReady", "excelReady", { answer: queued });
    expect(state.llmStatus).toBe("ready");
    expect(state.resumo).toEqual(resumo());
    expect(state.resumoProvisional).toBe(false);
    expect(state.excelStatus).toBe("ready");
    expect(state.excelUrl).toBe("/v1/arquivos/abc.xlsx?expira=1&token=t");
    expect(state.answer).toBe(queued);
  });

  it("knows the count from results_ready before the answer", () => {
    const state = run("resultsReady");
    expect(state.totalFiltrado).toBe(2);
    expect(state.answer).toBeNull();
  });

  it("applies a repeated event once: the same state comes back", () => {
    const once = run(...FULL_RUN);
    const twice = [...FULL_RUN.slice(5), "llmReady", "excelReady", "complete"]
      .map((s) => toAction(s as Step))
      .reduce(searchReducer, once);
    expect(twice).toEqual(once);

    const afterLlm = run({ answer: queued }, "llmReady");
    expect(searchReducer(afterLlm, toAction("llmReady"))).toBe(afterLlm);
  });

  it("a replayed llm_ready with another summary changes nothing", () => {
    const first = run({ answer: queued }, "llmReady");
    const replay = {
      ...EVENTS.llmReady,
      event: { ...EVENTS.llmReady.event, detail: { resumo: resumo({ resumo_executivo: "outro" }) } },
    };
    const state = searchReducer(first, { type: "event", searchId: SEARCH_ID, ...replay });
    expect(state.resumo).toEqual(resumo());
  });

  it("excel_ready before llm_ready: both apply, progress stays at the highest stage", () => {
    let state = run({ answer: queued }, "excelReady");
    expect(state.excelStatus).toBe("ready");
    expect(state.stage).toBe("excel_ready");
    expect(state.progress).toBe(98);
    expect(state.llmStatus).toBe("processing");

    state = searchReducer(state, toAction("llmReady"));
    expect(state.llmStatus).toBe("ready");
    expect(state.resumo).toEqual(resumo());
    expect(state.progress).toBe(100); // both settled: complete
    expect(state.stage).toBe("complete");
  });

  it("progress never goes backwards", () => {
    const state = run("connecting", "fetchingRJ", "fetchingSP", "filtering", "connecting");
    expect(state.progress).toBe(60);
    expect(state.stage).toBe("filtering");
    expect(state.message).toBe(EVENTS.filtering.event.message);

    const progressSeen: number[] = [];
    [...FULL_RUN].reverse().map(toAction).reduce((s, a) => {
      const next = searchReducer(s, a);
      progressSeen.push(next.progress);
      return next;
    }, run());
    expect(progressSeen).toEqual([...progressSeen].sort((a, b) => a - b));
  });

  it("complete finishes the progress; an event after it does not move the bar", () => {
    const state = run({ answer: queued }, "llmReady", "complete", "excelReady");
    expect(state.complete).toBe(true);
    expect(state.stage).toBe("complete");
    expect(state.progress).toBe(100);
    expect(state.excelStatus).toBe("ready"); // the data of a late event still counts
  });

  it("complete with an output still unknown is not settled (the hook then asks the status route)", () => {
    const state = run({ answer: queued }, "llmReady", "complete");
    expect(state.complete).toBe(true);
    expect(isSettled(state)).toBe(false);
    const polled = searchReducer(state, toAction({ status: status({ llm_status: "ready", excel_status: "ready", excel_url: "https://x.supabase.co/f.xlsx" }) }));
    expect(isSettled(polled)).toBe(true);
    expect(polled.excelUrl).toBe("https://x.supabase.co/f.xlsx");
  });

  it("error: the search failed; the message is shown and nothing settles back to running", () => {
    const state = run("connecting", "fetchingSP", "error", "filtering");
    expect(state.error).toBe("O PNCP não respondeu.");
    expect(state.stage).toBe("error");
    expect(isSettled(state)).toBe(true);
    expect(isRunning(state)).toBe(false);
  });

  it("a settled status never returns to processing", () => {
    const settled = run({ answer: queued }, "llmReady", "excelFailed");
    expect(settled.excelStatus).toBe("failed");
    expect(settled.excelError).toBe("Falha ao gerar a planilha.");

    const later = [
      { answer: queued },
      { status: status() },
      { status: status({ excel_status: "ready", excel_url: "/v1/arquivos/outro.xlsx" }) },
    ]
      .map((s) => toAction(s as Step))
      .reduce(searchReducer, settled);
    expect(later.llmStatus).toBe("ready");
    expect(later.resumo).toEqual(resumo());
    expect(later.excelStatus).toBe("failed"); // the first settled value wins
    expect(later.excelUrl).toBeNull();
  });

  it("polled status settles the outputs when the stream is gone", () => {
    const state = run(
      { answer: queued },
      { status: status({ llm_status: "ready", resumo: resumo(), excel_status: "failed", excel_error: "Sem espaço." }) },
    );
    expect(state.llmStatus).toBe("ready");
    expect(state.resumo).toEqual(resumo());
    expect(state.excelStatus).toBe("failed");
    expect(state.excelError).toBe("Sem espaço.");
    expect(state.stage).toBe("complete");
    expect(isSettled(state)).toBe(true);
  });

  it("a status with `erro` fails the search", () => {
    const state = run({ status: status({ erro: "O PNCP não respondeu." }) });
    expect(state.error).toBe("O PNCP não respondeu.");
  });

  it("the answer can settle everything at once (inline mode, stream missed)", () => {
    const state = run({ answer: answer({ llm_status: "ready", resumo: resumo(), excel_status: "skipped" }) });
    expect(isSettled(state)).toBe(true);
    expect(state.excelStatus).toBe("skipped");
    expect(state.stage).toBe("complete");
  });

  it("a report the plan does not include keeps the reason, from the answer or the status route", () => {
    const reason = "A planilha faz parte do plano Pro.";
    const answered = run({ answer: answer({ excel_status: "skipped", excel_error: reason }) });
    expect([answered.excelStatus, answered.excelError]).toEqual(["skipped", reason]);
    const polled = run({ answer: queued }, { status: status({ excel_status: "skipped", excel_error: reason }) });
    expect([polled.excelStatus, polled.excelError]).toEqual(["skipped", reason]);
    const silent = run({ answer: answer({ excel_status: "skipped" }) });
    expect(silent.excelError).toBeNull();
  });

  it("a search the plan refuses (403) is told apart from other failures", () => {
    const refused = searchReducer(run(), {
      type: "failed",
      searchId: SEARCH_ID,
      message: "Você já fez as 10 buscas do seu plano neste mês.",
      refusedByPlan: true,
    });
    expect(refused.refusedByPlan).toBe(true);
    expect(refused.error).toBe("Você já fez as 10 buscas do seu plano neste mês.");
    const failed = searchReducer(run(), { type: "failed", searchId: SEARCH_ID, message: "PNCP fora do ar." });
    expect(failed.refusedByPlan).toBe(false);
    const next = searchReducer(refused, { type: "started", searchId: "outra", request: request() });
    expect(next.refusedByPlan).toBe(false);
  });

  it("a failed POST keeps the server's messages", () => {
    const state = searchReducer(run(), {
      type: "failed",
      searchId: SEARCH_ID,
      message: "ufs: informe ao menos 1 item(ns).",
      fieldErrors: ["Estados (UFs): informe ao menos 1 item(ns)."],
    });
    expect(state.error).toBe("ufs: informe ao menos 1 item(ns).");
    expect(state.fieldErrors).toEqual(["Estados (UFs): informe ao menos 1 item(ns)."]);
    expect(isSettled(state)).toBe(true);
  });

  it("ignores what belongs to another search", () => {
    const state = run({ answer: queued });
    const other = { ...EVENTS.llmReady, type: "event" as const, searchId: "outra-busca" };
    expect(searchReducer(state, other)).toBe(state);
  });

  it("keeps the greatest event id, whatever the order", () => {
    const state = run("filtering", "connecting", "fetchingSP");
    expect(state.lastEventId).toBe(EVENTS.filtering.id);
  });
});

describe("laterEventId", () => {
  it("compares milliseconds, then sequence numbers", () => {
    expect(laterEventId(null, "5-0")).toBe("5-0");
    expect(laterEventId("5-0", null)).toBe("5-0");
    expect(laterEventId("5-1", "5-0")).toBe("5-1");
    expect(laterEventId("5-1", "5-10")).toBe("5-10");
    expect(laterEventId("1700000000999-3", "1700000001000-0")).toBe("1700000001000-0");
  });
});

describe("partial results (partial_results, one event per UF before the answer)", () => {
  const SP = partialResults("1700000000110-0", "SP", ufRows("SP", 3));
  const RJ = partialResults("1700000000210-0", "RJ", ufRows("RJ", 2), { progress: 55 });
  const codes = (state: SearchState) => partialRows(state.partial).map((l) => l.codigo_pncp);

  it("keeps each UF's rows in arrival order, each UF's own order as given", () => {
    let state = run("connecting", RJ, SP);
    expect(state.partial.map((p) => p.uf)).toEqual(["RJ", "SP"]);
    expect(codes(state)).toEqual(["RJ-1", "RJ-2", "SP-1", "SP-2", "SP-3"]);
    expect(isPartial(state)).toBe(true);
    expect(state.answer).toBeNull();

    state = run("connecting", SP, RJ);
    expect(codes(state)).toEqual(["SP-1", "SP-2", "SP-3", "RJ-1", "RJ-2"]);
    expect(state.stage).toBe("partial_results");
    expect(state.progress).toBe(55);
    expect(state.message).toBe("RJ: 2 licitação(ões) encontrada(s)");
  });

  it("a replayed UF does not duplicate rows: the later copy replaces the earlier in its place", () => {
    const once = run(SP, RJ);
    const replayed = run(SP, RJ, SP, RJ);
    expect(codes(replayed)).toEqual(codes(once));
    expect(replayed.partial).toEqual(once.partial);
    expect(partialCount(replayed).lidas).toBe(2);

    const changed = partialResults("1700000000300-0", "SP", [...ufRows("SP", 1), ...ufRows("SP", 4).slice(3)]);
    const state = run(SP, RJ, changed);
    expect(state.partial.map((p) => p.uf)).toEqual(["SP", "RJ"]);
    expect(codes(state)).toEqual(["SP-1", "SP-4", "RJ-1", "RJ-2"]);
  });

  it("the answer replaces the partial rows, and a partial event after it changes no rows", () => {
    const final = answer();
    let state = run(SP, RJ, { answer: final });
    expect(isPartial(state)).toBe(false);
    expect(state.answer?.licitacoes).toBe(final.licitacoes);

    const late = partialResults("1700000000400-0", "MG", ufRows("MG", 2));
    const before = state;
    state = searchReducer(state, toAction(late));
    expect(state.partial).toBe(before.partial);
    expect(state.partial.map((p) => p.uf)).toEqual(["SP", "RJ"]);
    // The answer first (a late subscriber gets the events after it): no partial rows at all.
    expect(run({ answer: final }, SP).partial).toEqual([]);
  });

  it("counts the UFs read against the UFs posted, and the matches beyond the rows sent", () => {
    const many = partialResults("1700000000110-0", "SP", ufRows("SP", 50), { total: 120 });
    expect(partialCount(run())).toEqual({ lidas: 0, total: 2, mostradas: 0, encontradas: 0 });
    expect(partialCount(run(many))).toEqual({ lidas: 1, total: 2, mostradas: 50, encontradas: 120 });
    expect(partialCount(run(many, RJ, many))).toEqual({ lidas: 2, total: 2, mostradas: 52, encontradas: 122 });
  });

  it("merges the failures of the partial events and of the answer, one per UF", () => {
    const rjFalhou = partialResults("1700000000210-0", "RJ", ufRows("RJ", 1), {
      falha: "o PNCP falhou em 2 de 5 páginas",
    });
    let state = run(SP, rjFalhou);
    expect(ufFailures(state)).toEqual([{ uf: "RJ", mensagem: "o PNCP falhou em 2 de 5 páginas" }]);
    expect(ufFailures(run(SP, rjFalhou, rjFalhou))).toHaveLength(1);

    state = searchReducer(
      state,
      toAction({
        answer: answer({
          ufs_com_falha: [
            { uf: "MG", mensagem: "O PNCP não respondeu para MG." },
            { uf: "RJ", mensagem: "O PNCP não respondeu completamente para RJ." },
          ],
        }),
      }),
    );
    expect(ufFailures(state)).toEqual([
      { uf: "RJ", mensagem: "O PNCP não respondeu completamente para RJ." },
      { uf: "MG", mensagem: "O PNCP não respondeu para MG." },
    ]);
    expect(ufFailures(run(SP, RJ, { answer: answer() }))).toEqual([]);
  });

  it("a replayed UF that recovered drops its failure", () => {
    const falhou = partialResults("1700000000210-0", "RJ", [], { falha: "o PNCP não respondeu" });
    expect(ufFailures(run(falhou))).toHaveLength(1);
    expect(ufFailures(run(falhou, RJ))).toEqual([]);
  });

  it("ignores a partial_results detail that is not one, but still moves the bar", () => {
    const bad = { id: "1700000000110-0", event: { ...SP.event, detail: { licitacoes: ufRows("SP", 1) } } };
    const state = run(bad);
    expect(state.partial).toEqual([]);
    expect(state.progress).toBe(33);
    expect(isPartial(state)).toBe(false);

    const odd = { id: "1700000000110-0", event: { ...SP.event, detail: { uf: "SP", licitacoes: [null, 3, ...ufRows("SP", 1)] } } };
    expect(codes(run(odd))).toEqual(["SP-1"]);
  });

  it("a failed search shows no partial rows", () => {
    const state = run(SP, "error");
    expect(state.partial).toHaveLength(1);
    expect(isPartial(state)).toBe(false);
  });

  it("a new search starts with no partial rows", () => {
    const state = searchReducer(run(SP, RJ), { type: "started", searchId: "outra", request: request({ ufs: ["MG"] }) });
    expect(state.partial).toEqual([]);
    expect(state.request?.ufs).toEqual(["MG"]);
  });
});
