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
 * Error bodies of this API (`backend/api/errors.py`): a 422 has one `{campo, msg}` per bad field,
 * other errors a text `detail`; both carry a readable `mensagem`. (The OpenAPI schema shows
 * FastAPI's default `HTTPValidationError`, which the app replaces.)
 */
export interface ApiErrorBody {
  detail?: string | { campo: string; msg: string }[];
  mensagem?: string;
}

