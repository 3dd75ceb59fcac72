/** Fixed code tables of PNCP and IBGE (the same as `backend/codes.py`). */

export const UFS: Readonly<Record<string, string>> = {
  AC: "Acre", AL: "Alagoas", AP: "Amapá", AM: "Amazonas", BA: "Bahia",
  CE: "Ceará", DF: "Distrito Federal", ES: "Espírito Santo", GO: "Goiás",
  MA: "Maranhão", MT: "Mato Grosso", MS: "Mato Grosso do Sul", MG: "Minas Gerais",
  PA: "Pará", PB: "Paraíba", PR: "Paraná", PE: "Pernambuco", PI: "Piauí",
  RJ: "Rio de Janeiro", RN: "Rio Grande do Norte", RS: "Rio Grande do Sul",
  RO: "Rondônia", RR: "Roraima", SC: "Santa Catarina", SP: "São Paulo",
  SE: "Sergipe", TO: "Tocantins",
};

export const UF_CODES: readonly string[] = Object.keys(UFS).sort();

/** The five regions of IBGE, for the shortcuts of the states picker. */
export const REGIOES: readonly { nome: string; ufs: readonly string[] }[] = [
  { nome: "Norte", ufs: ["AC", "AP", "AM", "PA", "RO", "RR", "TO"] },
  { nome: "Nordeste", ufs: ["AL", "BA", "CE", "MA", "PB", "PE", "PI", "RN", "SE"] },
  { nome: "Centro-Oeste", ufs: ["DF", "GO", "MT", "MS"] },
  { nome: "Sudeste", ufs: ["ES", "MG", "RJ", "SP"] },
  { nome: "Sul", ufs: ["PR", "RS", "SC"] },
];

export const MODALIDADES: readonly { codigo: number; nome: string }[] = [
  { codigo: 1, nome: "Leilão - Eletrônico" },
  { codigo: 2, nome: "Diálogo Competitivo" },
  { codigo: 3, nome: "Concurso" },
  { codigo: 4, nome: "Concorrência - Eletrônica" },
  { codigo: 5, nome: "Concorrência - Presencial" },
  { codigo: 6, nome: "Pregão - Eletrônico" },
  { codigo: 7, nome: "Pregão - Presencial" },
  { codigo: 8, nome: "Dispensa" },
  { codigo: 9, nome: "Inexigibilidade" },
  { codigo: 10, nome: "Manifestação de Interesse" },
  { codigo: 11, nome: "Pré-qualificação" },
  { codigo: 12, nome: "Credenciamento" },
  { codigo: 13, nome: "Leilão - Presencial" },
];

/** Competitive modalidades a supplier bids in (concorrências and pregões). */
export const DEFAULT_MODALIDADES: readonly number[] = [4, 5, 6, 7];

/** At most this many days between the dates of a search (the backend's limit). */
export const MAX_WINDOW_DAYS = 365;
