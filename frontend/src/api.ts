/** The few HTTP details the page shares: routes and readable error messages. */
import type { ApiErrorBody } from "./types";

export const routes = {
  config: "/v1/config",
  buscar: "/v1/buscar",
  setores: "/v1/setores",
  conta: "/v1/conta",
  buscas: (pagina: number) => `/v1/buscas?pagina=${pagina}`,
  busca: (searchId: string) => `/v1/buscar/${encodeURIComponent(searchId)}`,
  /** The progress stream; EventSource sends no headers, so the access token goes in the URL. */
  progress: (searchId: string, lastEventId: string | null, accessToken: string | null = null) => {
    const query = new URLSearchParams();
    if (lastEventId) query.set("last_event_id", lastEventId);
    if (accessToken) query.set("access_token", accessToken);
    const search = query.toString();
    return `/v1/buscar-progress/${encodeURIComponent(searchId)}` + (search ? `?${search}` : "");
  },
  status: (searchId: string) => `/v1/buscar/${encodeURIComponent(searchId)}/status`,
};

/**
 * How the page calls the API: as is without sign-in, with the session's access token when
 * signed in (`auth/client.ts`).
 */
export interface Api {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** The access token for the progress stream's URL; null without sign-in. */
  streamToken(): Promise<string | null>;
}

/** The API without sign-in (`auth: "off"`). */
export const openApi: Api = {
  fetch: (url, init) => fetch(url, init),
  streamToken: async () => null,
};

export const NETWORK_ERROR = "Não foi possível falar com o servidor. Verifique sua conexão e tente novamente.";

/** Request fields as the form names them, for the server's 422 messages. */
const FIELD_LABELS: Record<string, string> = {
  ufs: "Estados (UFs)",
  modo: "Quais licitações",
  data_inicial: "Data inicial",
  data_final: "Data final",
  setor_id: "Setor",
  modalidades: "Modalidades",
  valor_minimo: "Valor mínimo",
  valor_maximo: "Valor máximo",
  termos_busca: "Termos de busca",
  somente_abertas: "Somente abertas",
  search_id: "Identificador da busca",
};

function fieldLabel(campo: string): string {
  const [head = campo, ...rest] = campo.split(".");
  const label = FIELD_LABELS[head];
  return label ? [label, ...rest].join(" ") : campo;
}

export interface ReadableError {
  message: string;
  /** One message per bad field, for a 422. */
  fieldErrors: string[];
}

/** What to tell the user about an error answer of the API. */
export function describeError(status: number, body: unknown): ReadableError {
  const parsed = (typeof body === "object" && body !== null ? body : {}) as ApiErrorBody;
  const fieldErrors =
    status === 422 && Array.isArray(parsed.detail)
      ? parsed.detail
          .filter((d) => d && typeof d.msg === "string")
          .map((d) => `${fieldLabel(String(d.campo ?? ""))}: ${d.msg}`)
      : [];
  const detailText = typeof parsed.detail === "string" ? parsed.detail : null;
  const message =
    (typeof parsed.mensagem === "string" && parsed.mensagem) ||
    detailText ||
    (status === 422 ? "Alguns campos da busca são inválidos." : `O servidor respondeu com erro (${status}). Tente novamente.`);
  return { message, fieldErrors };
}

/** The JSON body of an answer, or null when it has none (or it is not JSON). */
export async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
