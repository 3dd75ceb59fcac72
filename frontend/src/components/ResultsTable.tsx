import { useMemo, useState } from "react";

import { formatDataHora, formatValor } from "../format";
import type { Licitacao } from "../types";

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
  if (sort === null) return rows; // the server's order: most relevant first
  const read = sortValue[sort.key];
  const sign = sort.direction === "ascending" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = read(a);
    const y = read(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return x < y ? -sign : x > y ? sign : 0;
  });
}

export function ResultsTable({ licitacoes }: { licitacoes: readonly Licitacao[] }) {
  const [sort, setSort] = useState<Sort | null>(null);
  const rows = useMemo(() => sortLicitacoes(licitacoes, sort), [licitacoes, sort]);

  const toggle = (key: SortKey) =>
    setSort((current) => {
      if (current?.key !== key) return { key, direction: FIRST_DIRECTION[key] };
      return { key, direction: current.direction === "ascending" ? "descending" : "ascending" };
    });
  const ariaSort = (key: SortKey) => (sort?.key === key ? sort.direction : "none");
  const arrow = (key: SortKey) => (sort?.key !== key ? "↕" : sort.direction === "ascending" ? "↑" : "↓");

  return (
    <div className="table-wrap">
      <table className="results" data-testid="results-table">
        <caption className="visually-hidden">
          Licitações encontradas; ordene por valor ou por encerramento pelos botões do cabeçalho.
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
            <tr key={l.codigo_pncp} data-testid="result-row">
              <td className="objeto">{l.objeto}</td>
              <td>{l.orgao}</td>
              <td>
                {l.uf}
                {l.municipio ? ` / ${l.municipio}` : ""}
              </td>
              <td className={`num${l.valor_estimado == null ? " sigiloso" : ""}`}>{formatValor(l.valor_estimado)}</td>
              <td>{formatDataHora(l.data_encerramento)}</td>
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
