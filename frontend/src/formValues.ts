/** The search form's values, their defaults, and the checks made before posting. */
import { DEFAULT_MODALIDADES, MAX_WINDOW_DAYS } from "./codes";
import { addDias, daysBetween, formatDataHora, hojeBrasilia } from "./format";
import type { Modo, SearchInput, Uf } from "./types";

export interface FormValues {
  setorId: string;
  ufs: string[];
  /** "publicacao" searches the period's publications; "abertas" all still open, with no dates. */
  modo: Modo;
  dataInicial: string;
  dataFinal: string;
  valorMinimo: string;
  valorMaximo: string;
  modalidades: number[];
  somenteAbertas: boolean;
  termosBusca: string;
}

/** Days before today where the default window starts. */
export const DEFAULT_WINDOW_DAYS = 10;

/** The form as it opens at `agora` (ms): the last days' publications, up to Brasília's today. */
export function defaultValues(agora: number = Date.now()): FormValues {
  const hoje = hojeBrasilia(agora);
  return {
    setorId: "",
    ufs: [],
    modo: "publicacao",
    dataInicial: addDias(hoje, -DEFAULT_WINDOW_DAYS),
    dataFinal: hoje,
    valorMinimo: "",
    valorMaximo: "",
    modalidades: [...DEFAULT_MODALIDADES],
    somenteAbertas: true,
    termosBusca: "",
  };
}

export type Checked = { ok: true; request: SearchInput } | { ok: false; errors: string[] };

/** The request to post at `agora` (ms), or what the user must fix first (in Portuguese). */
export function checkValues(values: FormValues, agora: number = Date.now()): Checked {
  const errors: string[] = [];
  if (!values.setorId) errors.push("Escolha um setor.");
  if (values.ufs.length === 0) errors.push("Escolha ao menos um estado (UF).");
  const porPeriodo = values.modo === "publicacao";
  if (porPeriodo && !values.dataInicial) errors.push("Informe a data inicial.");
  if (porPeriodo && !values.dataFinal) errors.push("Informe a data final.");
  if (porPeriodo && values.dataInicial && values.dataFinal) {
    const days = daysBetween(values.dataInicial, values.dataFinal);
    const hoje = hojeBrasilia(agora);
    if (values.dataFinal > hoje) {
      errors.push(`A data final não pode passar de hoje, ${formatDataHora(hoje)} em Brasília: ainda não há publicações depois.`);
    } else if (days < 0) errors.push("A data final não pode ser anterior à data inicial.");
    else if (days > MAX_WINDOW_DAYS) {
      errors.push(`O período não pode passar de ${MAX_WINDOW_DAYS} dias; divida a busca.`);
    }
  }
  const valorMinimo = parseValor(values.valorMinimo);
  const valorMaximo = parseValor(values.valorMaximo);
  if (Number.isNaN(valorMinimo)) errors.push("O valor mínimo deve ser um número maior ou igual a zero.");
  if (Number.isNaN(valorMaximo)) errors.push("O valor máximo deve ser um número maior ou igual a zero.");
  if (valorMinimo !== null && valorMaximo !== null && valorMinimo > valorMaximo) {
    errors.push("O valor máximo não pode ser menor que o valor mínimo.");
  }
  if (values.modalidades.length === 0) errors.push("Escolha ao menos uma modalidade.");
  if (errors.length > 0) return { ok: false, errors };

  const termos = values.termosBusca.trim();
  return {
    ok: true,
    request: {
      setor_id: values.setorId,
      ufs: [...values.ufs].sort() as Uf[], // codes of `UFS`, the ones the API lists
      modo: values.modo,
      // "abertas" has no period; and all it finds still take proposals.
      ...(porPeriodo ? { data_inicial: values.dataInicial, data_final: values.dataFinal } : {}),
      modalidades: [...values.modalidades].sort((a, b) => a - b),
      somente_abertas: porPeriodo ? values.somenteAbertas : true,
      ...(valorMinimo !== null ? { valor_minimo: valorMinimo } : {}),
      ...(valorMaximo !== null ? { valor_maximo: valorMaximo } : {}),
      ...(termos ? { termos_busca: termos } : {}),
    },
  };
}

/** "" -> null (no limit); "1500,50" or "1500.50" -> 1500.5; anything else (or < 0) -> NaN. */
function parseValor(text: string): number | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  const value = Number(trimmed.replace(",", "."));
  return Number.isFinite(value) && value >= 0 ? value : Number.NaN;
}
