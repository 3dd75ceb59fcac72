/**
 * The state of one search, merged from three sources that arrive in any order: the POST
 * answer, the progress events (SSE) and the status route (polling). Pure functions only.
 *
 * Rules that make the order irrelevant:
 * - a stage that happens once (`ONCE_STAGES`, from the backend's table of stages in
 *   `codes.generated.ts`) is applied once; a repeat changes nothing;
 * - the progress shown never goes backwards (an older event still delivers its data);
 * - an output that settled (summary ready, Excel ready/failed/skipped) never returns to
 *   processing, and the first settled value wins;
 * - the answer's summary is provisional (a "prévia") while its `llm_status` is "processing";
 * - each UF's `partial_results` is kept in arrival order; a replayed copy replaces the earlier one
 *   in its place, and none counts once the answer arrived (its ranking replaces them all).
 */
import { ONCE_STAGES, STAGE_BY_NAME, isStageName } from "../codes";
import type {
  BuscaResponse,
  ExcelStatus,
  FalhaUF,
  Licitacao,
  LlmStatus,
  Modo,
  PartialResultsDetail,
  ProgressEvent,
  ResumoLicitacoes,
  SearchStatus,
} from "../types";

/** What a search asked, as far as showing its answer needs: its UFs, mode and period. */
export interface SearchAsked {
  ufs: readonly string[];
  modo: Modo;
  data_inicial?: string | null;
  data_final?: string | null;
}

/** How the page follows the search after the POST: the SSE stream, or the status route. */
export type Connection = "idle" | "live" | "reconnecting" | "polling" | "closed";

export interface SearchState {
  /** The search the state belongs to; actions of any other search are ignored. */
  searchId: string | null;
  /** What was asked (its UFs, mode and period), as posted. */
  request: SearchAsked | null;
  /** Each UF's `partial_results`, in arrival order, until the answer replaces them. */
  partial: readonly PartialResultsDetail[];
  /** The POST answer (results, counts, failed UFs, notes), once it arrived. */
  answer: BuscaResponse | null;
  /** Stage and message shown by the progress bar, with the highest progress seen. */
  stage: string | null;
  progress: number;
  message: string;
  /** The greatest SSE event id seen: where a new stream resumes. */
  lastEventId: string | null;
  /** Once-stages already applied. */
  appliedStages: readonly string[];
  /** `total_filtrado` of `results_ready`, known before the answer when events come first. */
  totalFiltrado: number | null;
  llmStatus: LlmStatus;
  resumo: ResumoLicitacoes | null;
  /** True while `resumo` is the answer's summary computed from the data, before the LLM's. */
  resumoProvisional: boolean;
  excelStatus: ExcelStatus;
  excelUrl: string | null;
  /** Why the report failed, or why it was not made (`skipped`: the plan has none). */
  excelError: string | null;
  /** `complete` arrived, or both outputs settled. */
  complete: boolean;
  /** Why the search failed (the search itself, the POST, or the search vanished). */
  error: string | null;
  /** The server's 422 messages, one per bad field. */
  fieldErrors: readonly string[];
  /** The plan does not allow the search (a 403: no search left this month, too many UFs, too long a period). */
  refusedByPlan: boolean;
  connection: Connection;
}

export type SearchAction =
  | { type: "started"; searchId: string; request: SearchAsked; message?: string }
  | { type: "answered"; searchId: string; answer: BuscaResponse }
  | { type: "event"; searchId: string; id: string | null; event: ProgressEvent }
  | { type: "status"; searchId: string; status: SearchStatus }
  | { type: "failed"; searchId: string; message: string; fieldErrors?: readonly string[]; refusedByPlan?: boolean }
  | { type: "connection"; searchId: string; connection: Connection };

export const initialSearchState: SearchState = {
  searchId: null,
  request: null,
  partial: [],
  answer: null,
  stage: null,
  progress: 0,
  message: "",
  lastEventId: null,
  appliedStages: [],
  totalFiltrado: null,
  llmStatus: "processing",
  resumo: null,
  resumoProvisional: false,
  excelStatus: "processing",
  excelUrl: null,
  excelError: null,
  complete: false,
  error: null,
  fieldErrors: [],
  refusedByPlan: false,
  connection: "idle",
};

/** Nothing more will change: the search failed, or the summary and the Excel both settled. */
export function isSettled(state: SearchState): boolean {
  return state.error !== null || (state.llmStatus === "ready" && state.excelStatus !== "processing");
}

/** A search was started and is not settled yet. */
export function isRunning(state: SearchState): boolean {
  return state.searchId !== null && !isSettled(state);
}

/** `"1732800000000-3"` -> [1732800000000, 3]; the shape of the server's event ids. */
function parseEventId(id: string): [number, number] {
  const [millis = "", seq = "0"] = id.trim().split("-");
  const m = Number(millis);
  const s = Number(seq);
  return [Number.isFinite(m) ? m : 0, Number.isFinite(s) ? s : 0];
}

/** The later of two event ids (`null` means none yet). */
export function laterEventId(a: string | null, b: string | null): string | null {
  if (!a) return b || null;
  if (!b) return a;
  const [am, as] = parseEventId(a);
  const [bm, bs] = parseEventId(b);
  return bm > am || (bm === am && bs > as) ? b : a;
}

export function searchReducer(state: SearchState, action: SearchAction): SearchState {
  if (action.type === "started") {
    const stage = STAGE_BY_NAME.connecting.name;
    return {
      ...initialSearchState,
      searchId: action.searchId,
      request: action.request,
      stage,
      message: action.message ?? "Iniciando a busca…",
      connection: "live",
    };
  }
  if (action.searchId !== state.searchId) return state;
  switch (action.type) {
    case "answered":
      return finish(applyAnswer(state, action.answer));
    case "event":
      return finish(applyEvent(state, action.id, action.event));
    case "status":
      return finish(applyStatus(state, action.status));
    case "failed":
      return {
        ...fail(state, action.message),
        fieldErrors: action.fieldErrors ?? [],
        refusedByPlan: action.refusedByPlan ?? false,
      };
    case "connection":
      return state.connection === action.connection ? state : { ...state, connection: action.connection };
  }
}

function applyAnswer(state: SearchState, answer: BuscaResponse): SearchState {
  let next: SearchState = { ...state, answer, totalFiltrado: answer.total_filtrado };
  // The answer means the results are ready (stage `results_ready`, at that stage's progress).
  const { name, progress } = STAGE_BY_NAME.results_ready;
  next = advance(next, name, progress, `${answer.total_filtrado} licitação(ões) encontrada(s)`);
  next = applyLlm(next, answer.llm_status, answer.resumo ?? null);
  return applyExcel(next, answer.excel_status, answer.excel_url ?? null, answer.excel_error ?? null);
}

function applyStatus(state: SearchState, status: SearchStatus): SearchState {
  if (status.erro) return fail(state, status.erro);
  const next = applyLlm(state, status.llm_status, status.resumo ?? null);
  return applyExcel(next, status.excel_status, status.excel_url ?? null, status.excel_error ?? null);
}

function applyEvent(state: SearchState, id: string | null, event: ProgressEvent): SearchState {
  const lastEventId = laterEventId(state.lastEventId, id);
  const once = ONCE_STAGES.has(event.stage);
  if (once && state.appliedStages.includes(event.stage)) {
    return lastEventId === state.lastEventId ? state : { ...state, lastEventId };
  }
  let next = lastEventId === state.lastEventId ? state : { ...state, lastEventId };
  if (once) next = { ...next, appliedStages: [...next.appliedStages, event.stage] };
  const detail = event.detail ?? {};
  // Only the stages of the backend's table (a case that is none of them fails the type check).
  switch (isStageName(event.stage) ? event.stage : null) {
    case "error":
      return fail(next, text(detail.message) ?? event.message);
    case "partial_results": {
      const partial = parsePartial(detail);
      if (partial !== null && next.answer === null) next = { ...next, partial: putUf(next.partial, partial) };
      break;
    }
    case "results_ready": {
      const total = detail.total_filtrado;
      if (typeof total === "number" && next.answer === null) next = { ...next, totalFiltrado: total };
      break;
    }
    case "llm_ready":
      next = applyLlm(next, "ready", isResumo(detail.resumo) ? detail.resumo : null);
      break;
    case "excel_ready":
      next = applyExcel(next, "ready", text(detail.download_url), null);
      break;
    case "excel_failed":
      next = applyExcel(next, "failed", null, text(detail.error) ?? event.message);
      break;
    case "complete":
      next = { ...next, complete: true };
      break;
  }
  return advance(next, event.stage, event.progress, event.message);
}

/** Moves the progress bar forward only; an older or repeated event leaves it as it is. */
function advance(state: SearchState, stage: string, progress: number, message: string): SearchState {
  if (state.error !== null || progress < state.progress) return state;
  const complete = STAGE_BY_NAME.complete.name;
  if (state.stage === complete && stage !== complete) return state;
  if (state.stage === stage && state.progress === progress && state.message === message) return state;
  return { ...state, stage, progress, message };
}

function applyLlm(state: SearchState, status: LlmStatus, resumo: ResumoLicitacoes | null): SearchState {
  if (state.llmStatus === "ready") return state; // settled: the first final summary stays
  if (status === "ready") {
    return { ...state, llmStatus: "ready", resumo: resumo ?? state.resumo, resumoProvisional: false };
  }
  if (resumo !== null && state.resumo === null) {
    return { ...state, resumo, resumoProvisional: true };
  }
  return state;
}

function applyExcel(
  state: SearchState,
  status: ExcelStatus,
  url: string | null,
  error: string | null,
): SearchState {
  if (state.excelStatus !== "processing" || status === "processing") return state;
  return {
    ...state,
    excelStatus: status,
    excelUrl: status === "ready" ? url : null,
    excelError:
      status === "failed" ? (error ?? "Não foi possível gerar a planilha.") : status === "skipped" ? error : null,
  };
}

/** Both outputs settled: the search is complete even if `complete` itself was missed. */
function finish(state: SearchState): SearchState {
  if (state.error !== null || !isSettled(state)) return state;
  const done = state.complete ? state : { ...state, complete: true };
  const { name, progress } = STAGE_BY_NAME.complete;
  return advance(done, name, progress, "Busca concluída");
}

/** The UF's partial results appended, or in place of an earlier copy of the same UF. */
function putUf(
  partial: readonly PartialResultsDetail[],
  uf: PartialResultsDetail,
): readonly PartialResultsDetail[] {
  const at = partial.findIndex((p) => p.uf === uf.uf);
  return at < 0 ? [...partial, uf] : partial.map((p, i) => (i === at ? uf : p));
}

/** Shows partial rows: some UF's partial results arrived, the answer did not, nothing failed. */
export function isPartial(state: SearchState): boolean {
  return state.answer === null && state.error === null && state.partial.length > 0;
}

/** The partial rows: each UF's rows below those of the UFs that came before, each once. */
export function partialRows(partial: readonly PartialResultsDetail[]): readonly Licitacao[] {
  const seen = new Set<string>();
  const rows: Licitacao[] = [];
  for (const { licitacoes } of partial) {
    for (const licitacao of licitacoes) {
      if (seen.has(licitacao.codigo_pncp)) continue;
      seen.add(licitacao.codigo_pncp);
      rows.push(licitacao);
    }
  }
  return rows;
}

export interface PartialCount {
  /** UFs whose partial results arrived. */
  lidas: number;
  /** UFs of the search. */
  total: number;
  /** Rows shown, and the matches of the UFs read (a UF sends at most its 50 best). */
  mostradas: number;
  encontradas: number;
}

/** How far the partial results go. The UFs of the search are those posted (the server refuses others). */
export function partialCount(state: SearchState): PartialCount {
  const lidas = state.partial.length;
  const total = Math.max(new Set(state.request?.ufs ?? []).size, lidas);
  const mostradas = partialRows(state.partial).length;
  const encontradas = state.partial.reduce((sum, p) => sum + Math.max(p.total, p.licitacoes.length), 0);
  return { lidas, total, mostradas, encontradas };
}

/**
 * The UFs PNCP could not fully answer, one each: those the partial results said, in their order,
 * then the answer's others; the answer's message wins for a UF both name.
 */
export function ufFailures(state: SearchState): FalhaUF[] {
  const byUf = new Map<string, string>();
  for (const { uf, falha } of state.partial) if (falha) byUf.set(uf, falha);
  for (const { uf, mensagem } of state.answer?.ufs_com_falha ?? []) byUf.set(uf, mensagem);
  return [...byUf].map(([uf, mensagem]) => ({ uf, mensagem }));
}

function fail(state: SearchState, message: string): SearchState {
  if (state.error !== null) return state;
  return { ...state, error: message, stage: STAGE_BY_NAME.error.name, message };
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** A `partial_results` detail, its rows without a `codigo_pncp` left out; null when it is not one. */
function parsePartial(detail: { [key: string]: unknown }): PartialResultsDetail | null {
  const { uf, licitacoes, total, falha } = detail;
  if (typeof uf !== "string" || uf === "" || !Array.isArray(licitacoes)) return null;
  const rows = licitacoes.filter(
    (l): l is Licitacao =>
      typeof l === "object" && l !== null && typeof (l as { codigo_pncp?: unknown }).codigo_pncp === "string",
  );
  return {
    uf,
    licitacoes: rows,
    total: typeof total === "number" && Number.isFinite(total) ? total : rows.length,
    falha: text(falha),
  };
}

function isResumo(value: unknown): value is ResumoLicitacoes {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { resumo_executivo?: unknown }).resumo_executivo === "string"
  );
}
