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
 * - the answer's summary is provisional (a "prévia") while its `llm_status` is "processing".
 */
import { ONCE_STAGES, STAGE_BY_NAME, isStageName } from "../codes";
import type {
  BuscaResponse,
  ExcelStatus,
  LlmStatus,
  ProgressEvent,
  ResumoLicitacoes,
  SearchStatus,
} from "../types";

/** How the page follows the search after the POST: the SSE stream, or the status route. */
export type Connection = "idle" | "live" | "reconnecting" | "polling" | "closed";

export interface SearchState {
  /** The search the state belongs to; actions of any other search are ignored. */
  searchId: string | null;
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
  excelError: string | null;
  /** `complete` arrived, or both outputs settled. */
  complete: boolean;
  /** Why the search failed (the search itself, the POST, or the search vanished). */
  error: string | null;
  /** The server's 422 messages, one per bad field. */
  fieldErrors: readonly string[];
  connection: Connection;
}

export type SearchAction =
  | { type: "started"; searchId: string }
  | { type: "answered"; searchId: string; answer: BuscaResponse }
  | { type: "event"; searchId: string; id: string | null; event: ProgressEvent }
  | { type: "status"; searchId: string; status: SearchStatus }
  | { type: "failed"; searchId: string; message: string; fieldErrors?: readonly string[] }
  | { type: "connection"; searchId: string; connection: Connection };

export const initialSearchState: SearchState = {
  searchId: null,
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
    return { ...initialSearchState, searchId: action.searchId, stage, message: "Iniciando a busca…", connection: "live" };
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
    excelError: status === "failed" ? (error ?? "Não foi possível gerar a planilha.") : null,
  };
}

/** Both outputs settled: the search is complete even if `complete` itself was missed. */
function finish(state: SearchState): SearchState {
  if (state.error !== null || !isSettled(state)) return state;
  const done = state.complete ? state : { ...state, complete: true };
  const { name, progress } = STAGE_BY_NAME.complete;
  return advance(done, name, progress, "Busca concluída");
}

function fail(state: SearchState, message: string): SearchState {
  if (state.error !== null) return state;
  return { ...state, error: message, stage: STAGE_BY_NAME.error.name, message };
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function isResumo(value: unknown): value is ResumoLicitacoes {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { resumo_executivo?: unknown }).resumo_executivo === "string"
  );
}
