/**
 * Friendly names for the API's shapes. Everything comes from `api.ts`, which openapi-typescript
 * generates from `openapi.json` (`npm run gen:types`); nothing here is written by hand but the
 * two shapes the OpenAPI schema does not describe (see below).
 */
import type { components } from "./api";

type Schemas = components["schemas"];

export type BuscaRequest = Schemas["BuscaRequest"];
export type BuscaResponse = Schemas["BuscaResponse"];
export type Licitacao = Schemas["Licitacao"];
export type ResumoLicitacoes = Schemas["ResumoLicitacoes"];
export type SearchStatus = Schemas["SearchStatus"];
export type Setor = Schemas["Setor"];
export type FalhaUF = Schemas["FalhaUF"];

/** What the page posts; the search id is added when the search starts. */
export type SearchInput = Omit<BuscaRequest, "search_id">;
/** "publicacao": the publications of a period; "abertas": every licitação still taking proposals now. */
export type Modo = BuscaRequest["modo"];

export type LlmStatus = BuscaResponse["llm_status"];
export type ExcelStatus = BuscaResponse["excel_status"];
/** Where a search's data came from: the local copy of PNCP, PNCP live, or both. */
export type Fonte = NonNullable<BuscaResponse["fonte"]>;

/**
 * One SSE message's `data` (backend `schemas.ProgressEvent`). The SSE route does not declare it
 * in the OpenAPI schema yet, so this falls back to the same shape written here; once the schema
 * lists `ProgressEvent`, the generated type is used instead.
 */
export type ProgressEvent = Schemas extends { ProgressEvent: infer Generated }
  ? Generated
  : {
      stage: string;
      /** 0-100, or -1 for an error. */
      progress: number;
      message: string;
      detail?: { [key: string]: unknown };
    };

/**
 * `detail` of a `partial_results` event (backend `progress.events.partial_results_event`), one per
 * UF as soon as its data is read: its best matches, ranked (at most 50), how many it has, and why
 * it is incomplete when PNCP failed for some of its slices. Written here: the SSE detail is free-form.
 */
export interface PartialResultsDetail {
  uf: string;
  licitacoes: Licitacao[];
  /** The UF's matches; may exceed `licitacoes.length`. */
  total: number;
  falha: string | null;
}

/**
 * Error bodies of this API (`backend/api/errors.py`): a 422 has one `{campo, msg}` per bad field,
 * other errors a text `detail`; both carry a readable `mensagem`. (The OpenAPI schema shows
 * FastAPI's default `HTTPValidationError`, which the app replaces.)
 */
export interface ApiErrorBody {
  detail?: string | { campo: string; msg: string }[];
  mensagem?: string;
}

