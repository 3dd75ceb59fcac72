/**
 * Friendly names for the API's shapes. Everything comes from `api.ts`, which openapi-typescript
 * generates from `openapi.json` (`npm run gen:types`); nothing here is written by hand but the
 * shape the OpenAPI schema does not describe (see below).
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

/** A UF code the API takes (the schema lists them; `UFS` in codes.generated.ts names them). */
export type Uf = BuscaRequest["ufs"][number];
/** What the page posts; the search id is added when the search starts. */
export type SearchInput = Omit<BuscaRequest, "search_id">;
/** "publicacao": the publications of a period; "abertas": every licitação still taking proposals now. */
export type Modo = BuscaRequest["modo"];

export type LlmStatus = BuscaResponse["llm_status"];
export type ExcelStatus = BuscaResponse["excel_status"];
/** Where a search's data came from: the local copy of PNCP, PNCP live, or both. */
export type Fonte = NonNullable<BuscaResponse["fonte"]>;

/** One SSE message's `data` (backend `schemas.ProgressEvent`; the stream's `itemSchema` names it). */
export type ProgressEvent = Schemas["ProgressEvent"];

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

/** An error answer of the API (`backend/api/errors.py`): a text `detail` and a readable `mensagem`. */
export type Erro = Schemas["Erro"];
/** A 422: one `{campo, msg}` per bad field, and every problem in one `mensagem`. */
export type ErroDeValidacao = Schemas["ErroDeValidacao"];
export type CampoInvalido = Schemas["CampoInvalido"];
/**
 * An error body as the page reads it: the API's (`Erro`, or `ErroDeValidacao` for a 422), every
 * field optional since a proxy in between may answer something else.
 */
export type ApiErrorBody = Partial<Erro> | Partial<ErroDeValidacao>;

/** `GET /v1/config`: how the page signs people in (`off`: it does not). */
export type Configuracao = Schemas["Configuracao"];

/** `GET /v1/conta`: who is signed in, their plan and the searches left this month (Brasília). */
export type Conta = Schemas["Conta"];
export type Plano = Schemas["Plano"];
/** One search of `GET /v1/buscas`, as "Minhas buscas" lists it. */
export type MinhaBusca = Schemas["BuscaListada"];
/** `GET /v1/buscas?pagina=N`: the user's searches, newest first, a page at a time (`pagina` from 1). */
export type MinhasBuscasPagina = Schemas["MinhasBuscas"];
