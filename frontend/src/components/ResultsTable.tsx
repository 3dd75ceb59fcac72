import { useMemo, useState } from "react";

import { formatValor } from "../format";
import { useNow } from "../hooks/useNow";
import type { Licitacao } from "../types";
import { Encerramento } from "./Encerramento";

/** How often the days left are worked out again while the page is open. */
export const DIAS_REFRESH_MS = 60_000;

type SortKey = "valor" | "encerramento";
type Direction = "ascending" | "descending";
interface Sort {
  key: SortKey;
  direction: Direction;
}

/** First click: highest value first, soonest closing first. */
const FIRST_DIRECTION: Record<SortKey, Direction> = { valor: "descending", encerramento: "ascending" };

const sortValue: Record<SortKey, (l: Licitacao) => number | string | null> = {
  valor: (l) => l.valor_estimado ?? null,
  encerramento: (l) => l.data_encerramento ?? null, // ISO text, same zone: sorts as text
};

/** Rows in the chosen order; missing values (confidential budget, no date) always last. */
export function sortLicitacoes(rows: readonly Licitacao[], sort: Sort | null): readonly Licitacao[] {
  if (sort === null) return rows; // the server's order: most relevant first, or soonest closing ("abertas")
  const read = sortValue[sort.key];
  const sign = sort.direction === "ascending" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = read(a);
    const y = read(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return x < y ? -sign : x > y ? sign : 0;
  });
}

/**
 * The rows in the order `order` (codigo_pncp) gives, then those it does not know yet, as they come:
 * rows arriving after a sort go below, and no row moves under the reader.
 */
export function keepOrder(rows: readonly Licitacao[], order: readonly string[]): readonly Licitacao[] {
  const byCode = new Map(rows.map((l) => [l.codigo_pncp, l]));
  const known = new Set(order);
  const kept = order.flatMap((code) => byCode.get(code) ?? []);
  return [...kept, ...rows.filter((l) => !known.has(l.codigo_pncp))];
}

/** The badge's tooltip: why a row that cites none of the sector's terms is in the list. */
export const IA_TOOLTIP =
  "Classificada pela IA: o objeto não cita os termos do setor, mas a IA o leu e o considerou do setor.";

/**
 * Why the row is in the sector, under its objeto: "sugerido por IA" when the AI arbiter put it in
 * (`classificacao` "ia"), else the terms that matched (`palavras_encontradas`), if any.
 */
function Classificacao({ licitacao }: { licitacao: Licitacao }) {
  if (licitacao.classificacao === "ia") {
    return (
      <span className="classificacao badge-ia" data-testid="classificacao-ia" title={IA_TOOLTIP}>
        sugerido por IA
      </span>
    );
  }
  const termos = licitacao.palavras_encontradas ?? [];
  if (termos.length === 0) return null;
  return (
    <span className="classificacao termos" data-testid="termos-encontrados">
      termos: {termos.join(", ")}
    </span>
  );
}

interface Props {
  licitacoes: readonly Licitacao[];
  /**
   * Partial rows, still arriving (`partial_results`): a sort applies to the rows there when the
   * user clicks, and later ones go below. The final rows are sorted whole.
   */
  parcial?: boolean;
}

export function ResultsTable({ licitacoes, parcial = false }: Props) {
  const [sort, setSort] = useState<Sort | null>(null);
  // The order of the rows when the user sorted partial rows.
  const [sortedOrder, setSortedOrder] = useState<readonly string[]>([]);
  const rows = useMemo(() => {
    if (sort === null) return licitacoes; // the server's order
    return parcial ? keepOrder(licitacoes, sortedOrder) : sortLicitacoes(licitacoes, sort);
  }, [licitacoes, sort, parcial, sortedOrder]);
  const agora = useNow(DIAS_REFRESH_MS);

  const toggle = (key: SortKey) => {
    const next: Sort =
      sort?.key !== key
        ? { key, direction: FIRST_DIRECTION[key] }
        : { key, direction: sort.direction === "ascending" ? "descending" : "ascending" };
    setSort(next);
    setSortedOrder(sortLicitacoes(licitacoes, next).map((l) => l.codigo_pncp));
  };
  const ariaSort = (key: SortKey) => (sort?.key === key ? sort.direction : "none");
  const arrow = (key: SortKey) => (sort?.key !== key ? "↕" : sort.direction === "ascending" ? "↑" : "↓");

  return (
    <div className="table-wrap">
      <table className="results" data-testid="results-table" data-parcial={parcial ? "true" : "false"}>
        <caption className="visually-hidden">
          {parcial ? "Resultados parciais, ainda chegando: " : "Licitações encontradas; "}
          ordene por valor ou por encerramento pelos botões do cabeçalho.
        </caption>
        <thead>
          <tr>
            <th scope="col">Objeto</th>
            <th scope="col">Órgão</th>
            <th scope="col">UF / Município</th>
            <th scope="col" aria-sort={ariaSort("valor")} className="num">
              <button type="button" className="sort" data-testid="sort-valor" onClick={() => toggle("valor")}>
                Valor estimado <span aria-hidden="true">{arrow("valor")}</span>
              </button>
            </th>
            <th scope="col" aria-sort={ariaSort("encerramento")}>
              <button
                type="button"
                className="sort"
                data-testid="sort-encerramento"
                onClick={() => toggle("encerramento")}
              >
                Encerramento <span aria-hidden="true">{arrow("encerramento")}</span>
              </button>
            </th>
            <th scope="col">Modalidade</th>
            <th scope="col">
              <span className="visually-hidden">Edital</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((l) => (
            <tr key={l.codigo_pncp} data-testid="result-row" data-classificacao={l.classificacao}>
              <td className="objeto-cell">
                <span className="objeto">{l.objeto}</span>
                <Classificacao licitacao={l} />
              </td>
              <td>{l.orgao}</td>
              <td>
                {l.uf}
                {l.municipio ? ` / ${l.municipio}` : ""}
              </td>
              <td className={`num${l.valor_estimado == null ? " sigiloso" : ""}`}>{formatValor(l.valor_estimado)}</td>
              <td className="encerramento">
                <Encerramento encerramento={l.data_encerramento} agora={agora} />
              </td>
              <td>{l.modalidade}</td>
              <td className="edital">
                <a href={l.link} target="_blank" rel="noopener noreferrer">
                  Ver edital<span className="visually-hidden"> (abre em nova aba)</span>
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
