import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeEventSource, type FakeResponse, calls, deferred, installEventSource, installFetch } from "../test/fakes";
import { EVENTS, SEARCH_ID, answer, request, resumo, status } from "../test/fixtures";
import type { ProgressEvent } from "../types";
import { isSettled } from "./searchState";
import { type SearchInput, useSearch } from "./useSearch";

const REQUEST: SearchInput = request();

// frontend/README.md: a stream the browser gave up on is reopened after 1 s, 2 s and 4 s; then
// the status route is polled every 2 s. The tests hold the hook to these, not to its constants.
const REOPEN_AFTER_MS = [1000, 2000, 4000];
const POLL_EVERY_MS = 2000;

const STREAM = `/v1/buscar-progress/${SEARCH_ID}`;
const STATUS = `GET /v1/buscar/${SEARCH_ID}/status`;
const EXCEL_URL = "/v1/arquivos/abc.xlsx?expira=1&token=t";

beforeEach(() => {
  calls.length = 0;
  installEventSource();
  vi.spyOn(crypto, "randomUUID").mockReturnValue(SEARCH_ID);
});

afterEach(() => {
  vi.useRealTimers();
});

/** Starts a search whose POST answers when the test says so. */
async function startSearch(routes: Record<string, (init?: RequestInit) => FakeResponse | Promise<FakeResponse>> = {}) {
  const post = deferred<FakeResponse>();
  const fetchMock = installFetch({ "POST /v1/buscar": () => post.promise, ...routes });
  const hook = renderHook(() => useSearch());
  let searching!: Promise<void>;
  await act(async () => {
    searching = hook.result.current.search(REQUEST);
  });
  const answerWith = async (response: FakeResponse) => {
    await act(async () => {
      post.resolve(response);
      await searching;
    });
  };
  return { hook, fetchMock, answerWith };
}

function emit(source: FakeEventSource, event: { id: string; event: ProgressEvent }) {
  act(() => source.emit(event));
}

describe("useSearch", () => {
  it("opens the progress stream before posting the search, with the same search id", async () => {
    const { fetchMock, hook, answerWith } = await startSearch();
    expect(calls.slice(0, 2)).toEqual([`sse ${STREAM}`, "POST /v1/buscar"]);
    const body = JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body));
    expect(body).toEqual({ ...REQUEST, search_id: SEARCH_ID });
    expect(hook.result.current.running).toBe(true);
    await answerWith({ status: 200, body: answer() });
  });

  it("shows the answer at once, then applies the events until complete closes the stream", async () => {
    const { hook, answerWith } = await startSearch();
    const stream = FakeEventSource.latest;
    act(() => stream.open());
    emit(stream, EVENTS.connecting);
    emit(stream, EVENTS.fetchingSP);
    expect(hook.result.current.state.stage).toBe("fetching");
    expect(hook.result.current.state.progress).toBe(33);

    await answerWith({ status: 200, body: answer() });
    let state = hook.result.current.state;
    expect(state.answer?.licitacoes).toHaveLength(2);
    expect(state.resumoProvisional).toBe(true);
    expect(state.llmStatus).toBe("processing");

    emit(stream, EVENTS.llmReady);
    emit(stream, EVENTS.excelReady);
    state = hook.result.current.state;
    expect(state.resumo).toEqual(resumo());
    expect(state.excelUrl).toBe(EXCEL_URL);
    expect(state.stage).toBe("complete");
    expect(isSettled(state)).toBe(true);
    expect(stream.readyState).toBe(FakeEventSource.CLOSED); // settled: nothing more to hear
    expect(hook.result.current.running).toBe(false);
  });

  it("applies events that come before the answer, and the answer after them", async () => {
    const { hook, answerWith } = await startSearch();
    const stream = FakeEventSource.latest;
    for (const step of [EVENTS.connecting, EVENTS.resultsReady, EVENTS.llmReady, EVENTS.excelReady]) emit(stream, step);
    expect(hook.result.current.state.totalFiltrado).toBe(2);
    expect(hook.result.current.state.answer).toBeNull();
    expect(hook.result.current.running).toBe(false); // outputs settled; the results still come by the POST

    await answerWith({
      status: 200,
      body: answer({ llm_status: "ready", resumo: resumo(), excel_status: "ready", excel_url: EXCEL_URL }),
    });
    const state = hook.result.current.state;
    expect(state.answer?.total_filtrado).toBe(2);
    expect(state.resumo).toEqual(resumo());
    expect(state.stage).toBe("complete");
  });

  it("ignores duplicated events", async () => {
    const { hook, answerWith } = await startSearch();
    const stream = FakeEventSource.latest;
    await answerWith({ status: 200, body: answer() });
    emit(stream, EVENTS.llmReady);
    const after = hook.result.current.state;
    emit(stream, EVENTS.llmReady);
    emit(stream, {
      ...EVENTS.llmReady,
      event: { ...EVENTS.llmReady.event, detail: { resumo: resumo({ resumo_executivo: "outro" }) } },
    });
    emit(stream, EVENTS.fetchingSP);
    expect(hook.result.current.state).toBe(after);
  });

  it("closes the stream on complete and asks the status route for what it missed", async () => {
    const { hook, fetchMock, answerWith } = await startSearch({
      [STATUS]: () => ({ status: 200, body: status({ llm_status: "ready", resumo: resumo(), excel_status: "ready", excel_url: EXCEL_URL }) }),
    });
    const stream = FakeEventSource.latest;
    await answerWith({ status: 200, body: answer() });
    await act(async () => stream.emit(EVENTS.complete)); // llm_ready and excel_ready were missed
    expect(stream.readyState).toBe(FakeEventSource.CLOSED);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(calls.at(-1)).toBe(STATUS);
    const state = hook.result.current.state;
    expect(state.resumo).toEqual(resumo());
    expect(state.excelUrl).toBe(EXCEL_URL);
    expect(isSettled(state)).toBe(true);
  });

  it("shows the search's error event and stops", async () => {
    const { hook, answerWith } = await startSearch();
    const stream = FakeEventSource.latest;
    emit(stream, EVENTS.connecting);
    emit(stream, EVENTS.error);
    expect(hook.result.current.state.error).toBe("O PNCP não respondeu.");
    expect(stream.readyState).toBe(FakeEventSource.CLOSED);
    await answerWith({ status: 502, body: { detail: "O PNCP não respondeu.", mensagem: "O PNCP não respondeu." } });
    expect(hook.result.current.state.error).toBe("O PNCP não respondeu.");
  });

  it("leaves a dropped connection to the browser's own retry (it sends Last-Event-ID)", async () => {
    vi.useFakeTimers();
    const { hook, answerWith } = await startSearch();
    const stream = FakeEventSource.latest;
    emit(stream, EVENTS.connecting);
    act(() => stream.drop());
    expect(hook.result.current.state.connection).toBe("reconnecting");
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(FakeEventSource.instances).toHaveLength(1);
    act(() => stream.open());
    expect(hook.result.current.state.connection).toBe("live");
    await answerWith({ status: 200, body: answer() });
  });

  it("reopens a stream the browser gave up on from the last event id, with backoff, then polls until settled", async () => {
    vi.useFakeTimers();
    let statusAnswer = status();
    const { hook, fetchMock, answerWith } = await startSearch({ [STATUS]: () => ({ status: 200, body: statusAnswer }) });
    const first = FakeEventSource.latest;
    act(() => first.open());
    emit(first, EVENTS.connecting);
    emit(first, EVENTS.filtering);
    emit(first, EVENTS.fetchingSP); // out of order: the cursor stays at the greatest id
    await answerWith({ status: 200, body: answer() });

    const resumeUrl = `${STREAM}?last_event_id=${EVENTS.filtering.id}`;
    let stream = first;
    for (const delay of REOPEN_AFTER_MS) {
      act(() => stream.giveUp()); // e.g. a deploy: the proxy answers 502
      expect(hook.result.current.state.connection).toBe("reconnecting");
      const opened = FakeEventSource.instances.length;
      await act(() => vi.advanceTimersByTimeAsync(delay - 1));
      expect(FakeEventSource.instances).toHaveLength(opened); // not before its delay...
      await act(() => vi.advanceTimersByTimeAsync(1));
      expect(FakeEventSource.instances).toHaveLength(opened + 1); // ...and right at it
      stream = FakeEventSource.latest;
      expect(stream.url).toBe(resumeUrl);
    }

    // The third reopening fails too: poll the status route at once, then every 2 s.
    const postOnly = fetchMock.mock.calls.length;
    await act(async () => stream.giveUp());
    expect(hook.result.current.state.connection).toBe("polling");
    expect(fetchMock.mock.calls.length).toBe(postOnly + 1);
    expect(calls.at(-1)).toBe(STATUS);

    const polled = fetchMock.mock.calls.length;
    await act(() => vi.advanceTimersByTimeAsync(POLL_EVERY_MS - 1));
    expect(fetchMock.mock.calls.length).toBe(polled); // not before 2 s...
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(fetchMock.mock.calls.length).toBe(polled + 1); // ...and right at it
    expect(hook.result.current.state.llmStatus).toBe("processing");

    statusAnswer = status({ llm_status: "ready", resumo: resumo() });
    await act(() => vi.advanceTimersByTimeAsync(POLL_EVERY_MS));
    expect(hook.result.current.state.llmStatus).toBe("ready");
    expect(isSettled(hook.result.current.state)).toBe(false); // the Excel is still processing

    statusAnswer = status({ llm_status: "ready", resumo: resumo(), excel_status: "ready", excel_url: EXCEL_URL });
    await act(() => vi.advanceTimersByTimeAsync(POLL_EVERY_MS));
    const state = hook.result.current.state;
    expect(state.excelUrl).toBe(EXCEL_URL);
    expect(isSettled(state)).toBe(true);

    const settledAt = fetchMock.mock.calls.length;
    await act(() => vi.advanceTimersByTimeAsync(POLL_EVERY_MS * 5));
    expect(fetchMock.mock.calls.length).toBe(settledAt); // settled: polling stopped
    expect(FakeEventSource.instances).toHaveLength(1 + REOPEN_AFTER_MS.length);
  });

  it("starts the backoff over once a reopened stream works", async () => {
    vi.useFakeTimers();
    const { answerWith } = await startSearch();
    await answerWith({ status: 200, body: answer() });
    act(() => FakeEventSource.latest.giveUp());
    await act(() => vi.advanceTimersByTimeAsync(1000));
    act(() => FakeEventSource.latest.open());
    act(() => FakeEventSource.latest.giveUp());
    await act(() => vi.advanceTimersByTimeAsync(1000)); // 1 s again, not 2 s
    expect(FakeEventSource.instances).toHaveLength(3);
  });

  it("keeps polling through a 404 before the answer exists", async () => {
    vi.useFakeTimers();
    const replies: FakeResponse[] = [
      { status: 404, body: { detail: "Busca não encontrada ou expirada." } },
      { status: 200, body: status({ llm_status: "ready", resumo: resumo(), excel_status: "skipped" }) },
    ];
    const { hook, answerWith } = await startSearch({ [STATUS]: () => replies.shift() ?? replies[0]! });
    for (const delay of REOPEN_AFTER_MS) {
      act(() => FakeEventSource.latest.giveUp());
      await act(() => vi.advanceTimersByTimeAsync(delay));
    }
    await act(async () => FakeEventSource.latest.giveUp());
    expect(hook.result.current.state.error).toBeNull();
    await act(() => vi.advanceTimersByTimeAsync(POLL_EVERY_MS));
    expect(hook.result.current.state.excelStatus).toBe("skipped");
    await answerWith({ status: 200, body: answer() });
    expect(hook.result.current.state.answer).not.toBeNull();
  });

  it("shows the server's 422 messages, field by field, and closes the stream", async () => {
    const { hook, answerWith } = await startSearch();
    await answerWith({
      status: 422,
      body: {
        detail: [
          { campo: "ufs", msg: "informe ao menos 1 item(ns)." },
          { campo: "data_final", msg: "a data final não pode ser anterior à data inicial." },
        ],
        mensagem: "ufs: informe ao menos 1 item(ns).; data_final: a data final não pode ser anterior à data inicial.",
      },
    });
    const state = hook.result.current.state;
    expect(state.fieldErrors).toEqual([
      "Estados (UFs): informe ao menos 1 item(ns).",
      "Data final: a data final não pode ser anterior à data inicial.",
    ]);
    expect(state.error).toContain("ufs: informe ao menos 1 item(ns).");
    expect(FakeEventSource.latest.readyState).toBe(FakeEventSource.CLOSED);
    expect(hook.result.current.running).toBe(false);
  });

  it("shows `mensagem` of other errors, and a readable note when the server cannot be reached", async () => {
    const first = await startSearch();
    await first.answerWith({ status: 502, body: { detail: "PNCP fora do ar.", mensagem: "PNCP fora do ar." } });
    expect(first.hook.result.current.state.error).toBe("PNCP fora do ar.");
    expect(first.hook.result.current.state.fieldErrors).toEqual([]);

    installFetch({
      "POST /v1/buscar": () => {
        throw new TypeError("Failed to fetch");
      },
    });
    await act(() => first.hook.result.current.search(REQUEST));
    expect(first.hook.result.current.state.error).toMatch(/Não foi possível falar com o servidor/);
  });

  it("stops following when unmounted", async () => {
    const { hook, answerWith } = await startSearch();
    await answerWith({ status: 200, body: answer() });
    hook.unmount();
    expect(FakeEventSource.latest.readyState).toBe(FakeEventSource.CLOSED);
  });
});
