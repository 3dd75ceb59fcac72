/** Made-up API shapes for tests (not PNCP records). */
import type { StageName } from "../codes";
import type {
  BuscaResponse,
  Licitacao,
  ProgressEvent,
  ResumoLicitacoes,
  SearchInput,
  SearchStatus,
} from "../types";

export const SEARCH_ID = "3f2b8c1e-6a4d-4e8f-9b1a-2c3d4e5f6a7b";

/** What the page posts for a "publicacao" search of SP and RJ. */
export function request(overrides: Partial<SearchInput> = {}): SearchInput {
  return {
    setor_id: "vestuario",
    ufs: ["RJ", "SP"],
    modo: "publicacao",
    data_inicial: "2026-11-10",
    data_final: "2026-11-20",
    modalidades: [4, 5, 6, 7],
    somente_abertas: true,
    ...overrides,
  };
}

export function licitacao(overrides: Partial<Licitacao> = {}): Licitacao {
  return {
    codigo_pncp: "00000000000100-1-000001/2026",
    objeto: "Aquisição de uniformes escolares",
    orgao: "Prefeitura Municipal de Exemplo",
    uf: "SP",
    municipio: "Exemplo",
    valor_estimado: 150000,
    modalidade: "Pregão - Eletrônico",
    modalidade_id: 6,
    data_publicacao: "2026-11-10T09:00:00",
    data_abertura: "2026-11-12T09:00:00",
    data_encerramento: "2026-11-25T17:30:00",
    situacao: "Divulgada no PNCP",
    situacao_id: 1,
    link: "https://compras.example.test/edital/1",
    link_pncp: "https://pncp.example.test/1",
    palavras_encontradas: ["uniforme"],
    relevancia: 0.9,
    classificacao: "palavras",
    ...overrides,
  };
}

export function resumo(overrides: Partial<ResumoLicitacoes> = {}): ResumoLicitacoes {
  return {
    resumo_executivo: "Resumo do modelo: 2 oportunidades em SP.",
    total_oportunidades: 2,
    valor_total: 250000,
    destaques: ["Maior valor: R$ 150.000,00"],
    alerta_urgencia: null,
    origem: "llm",
    ...overrides,
  };
}

export const provisionalResumo = resumo({ resumo_executivo: "Prévia calculada dos dados.", origem: "fallback" });

export function answer(overrides: Partial<BuscaResponse> = {}): BuscaResponse {
  return {
    search_id: SEARCH_ID,
    modo: "publicacao",
    licitacoes: [
      licitacao(),
      licitacao({
        codigo_pncp: "00000000000100-1-000002/2026",
        objeto: "Contratação de serviço de limpeza",
        uf: "RJ",
        municipio: "Outra",
        valor_estimado: null,
        data_encerramento: "2026-11-21T10:00:00",
        link: "https://compras.example.test/edital/2",
      }),
    ],
    total_raw: 40,
    total_filtrado: 2,
    ufs_com_falha: [],
    avisos: [],
    resumo: provisionalResumo,
    llm_status: "processing",
    excel_status: "processing",
    excel_url: null,
    excel_error: null,
    processamento: "fila",
    tempos_ms: {},
    ...overrides,
  };
}

export function status(overrides: Partial<SearchStatus> = {}): SearchStatus {
  return {
    search_id: SEARCH_ID,
    llm_status: "processing",
    excel_status: "processing",
    resumo: null,
    excel_url: null,
    excel_error: null,
    erro: null,
    created_at: "2026-11-20T12:00:00Z",
    total_filtrado: 2,
    ufs_com_falha: [],
    ...overrides,
  };
}

/** The events of a search that used the queue, in the server's order, with their ids. */
export const EVENTS = {
  connecting: { id: "1700000000000-0", event: ev("connecting", 5, "Buscando licitações de Vestuário") },
  fetchingSP: {
    id: "1700000000100-0",
    event: ev("fetching", 33, "SP: 30 publicações lidas (1 de 2 UFs)", { uf: "SP", ufs_done: 1, ufs_total: 2, items: 30 }),
  },
  fetchingRJ: {
    id: "1700000000200-0",
    event: ev("fetching", 55, "RJ: 10 publicações lidas (2 de 2 UFs)", { uf: "RJ", ufs_done: 2, ufs_total: 2, items: 10 }),
  },
  filtering: { id: "1700000000300-0", event: ev("filtering", 60, "Filtrando 40 publicações pelo setor Vestuário") },
  resultsReady: {
    id: "1700000000400-0",
    event: ev("results_ready", 70, "2 licitação(ões) encontrada(s)", { total_filtrado: 2 }),
  },
  llmReady: { id: "1700000001000-0", event: ev("llm_ready", 85, "Resumo pronto", { resumo: resumo() }) },
  excelReady: {
    id: "1700000002000-0",
    event: ev("excel_ready", 98, "Planilha pronta para download", {
      download_url: "/v1/arquivos/abc.xlsx?expira=1&token=t",
    }),
  },
  excelFailed: {
    id: "1700000002000-0",
    event: ev("excel_failed", 98, "Falha ao gerar a planilha.", { error: "Falha ao gerar a planilha." }),
  },
  complete: { id: "1700000002000-1", event: ev("complete", 100, "Busca concluída") },
  error: {
    id: "1700000000500-0",
    event: ev("error", -1, "O PNCP não respondeu.", { message: "O PNCP não respondeu." }),
  },
} satisfies Record<string, { id: string; event: ProgressEvent }>;

/** `n` rows of one UF, numbered from 1: codigo_pncp `<UF>-<i>`, objeto `<UF> <i>`. */
export function ufRows(uf: string, n: number, overrides: Partial<Licitacao> = {}): Licitacao[] {
  return Array.from({ length: n }, (_, i) =>
    licitacao({ codigo_pncp: `${uf}-${i + 1}`, objeto: `${uf} ${i + 1}`, uf, ...overrides }),
  );
}

/** A UF's `partial_results` event (backend `partial_results_event`), with its id. */
export function partialResults(
  id: string,
  uf: string,
  licitacoes: Licitacao[],
  { total = licitacoes.length, falha = null, progress = 33 }: { total?: number; falha?: string | null; progress?: number } = {},
): { id: string; event: ProgressEvent } {
  const message = `${uf}: ${total} licitação(ões) encontrada(s)` + (falha ? ` (${falha})` : "");
  return { id, event: ev("partial_results", progress, message, { uf, licitacoes, total, falha }) };
}

function ev(stage: StageName, progress: number, message: string, detail: Record<string, unknown> = {}): ProgressEvent {
  return { stage, progress, message, detail };
}
