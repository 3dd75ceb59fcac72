/** The few HTTP details the page shares: routes and readable error messages. */
import type { ApiErrorBody } from "./types";

export const routes = {
  buscar: "/v1/buscar",
  setores: "/v1/setores",
  progress: (searchId: string, lastEventId: string | null) =>
    `/v1/buscar-progress/${encodeURIComponent(searchId)}` +
    (lastEventId ? `?last_event_id=${encodeURIComponent(lastEventId)}` : ""),
  status: (searchId: string) => `/v1/buscar/${encodeURIComponent(searchId)}/status`,
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
