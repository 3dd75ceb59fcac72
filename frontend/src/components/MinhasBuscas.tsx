import type { Api } from "../api";
import { describeModo, formatInstanteBrasilia } from "../format";
import { POR_PAGINA, useMinhasBuscas } from "../hooks/useMinhasBuscas";
import type { MinhaBusca, Setor } from "../types";

interface Props {
  api: Api;
  setores: readonly Setor[];
  /** A new value reads the list again (a search was just made). */
  refreshKey: number;
  /** The search shown now, marked in the list. */
  openId: string | null;
  onOpen: (busca: MinhaBusca) => void;
}

/** The person's searches, newest first; one click shows a search again. */
export function MinhasBuscas({ api, setores, refreshKey, openId, onOpen }: Props) {
  const { pagina, lista, error, showPage } = useMinhasBuscas(api, refreshKey);
  const paginas = lista ? Math.max(1, Math.ceil(lista.total / POR_PAGINA)) : 1;
  const nomeSetor = (id: string) => setores.find((s) => s.id === id)?.nome ?? id;

  return (
    <section className="card minhas-buscas" data-testid="minhas-buscas" aria-labelledby="minhas-buscas-titulo">
      <h2 id="minhas-buscas-titulo">Minhas buscas</h2>
      {error !== null && <p className="hint error">{error}</p>}
      {lista === null && error === null && <p className="hint">Carregando suas buscas…</p>}
      {lista !== null && lista.total === 0 && <p className="hint">Você ainda não fez nenhuma busca.</p>}
      {lista !== null && lista.buscas.length > 0 && (
        <ul className="buscas">
          {lista.buscas.map((busca) => (
            <li key={busca.search_id}>
              <button
                type="button"
                className="minha-busca"
                data-testid="minha-busca"
                data-search-id={busca.search_id}
                aria-current={busca.search_id === openId ? "true" : undefined}
                onClick={() => onOpen(busca)}
              >
                <span className="quando">{formatInstanteBrasilia(busca.created_at) ?? "—"}</span>
                <span className="setor">{nomeSetor(busca.setor_id)}</span>
                <span>{busca.ufs.join(", ")}</span>
                <span>{describeModo(busca.modo, busca.data_inicial, busca.data_final)}</span>
                <span className="encontradas">{describeEncontradas(busca.total_filtrado)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {paginas > 1 && (
        <nav className="paginas" aria-label="Páginas de Minhas buscas">
          <button type="button" onClick={() => showPage(pagina - 1)} disabled={pagina <= 1}>
            Mais recentes
          </button>
          <span className="hint">
            Página {pagina} de {paginas}
          </span>
          <button type="button" onClick={() => showPage(pagina + 1)} disabled={pagina >= paginas}>
            Mais antigas
          </button>
        </nav>
      )}
    </section>
  );
}

function describeEncontradas(total: number): string {
  if (total === 0) return "nenhuma licitação";
  return total === 1 ? "1 licitação" : `${total.toLocaleString("pt-BR")} licitações`;
}
