import { describeModo } from "../format";
import type { SearchAsked } from "../hooks/searchState";
import type { BuscaResponse } from "../types";
import { FonteDados } from "./FonteDados";

interface Props {
  answer: BuscaResponse;
  /** What was asked: the period of a "publicacao" search is not in the answer. */
  request: SearchAsked | null;
}

/** Which licitações these are, counts, where the data came from, and the server's notes. */
export function ResultsOverview({ answer, request }: Props) {
  const avisos = answer.avisos ?? [];
  const modo = answer.modo ?? request?.modo ?? "publicacao";
  const ordem = modo === "abertas" ? "encerramento mais próximo primeiro" : "mais relevantes primeiro";
  return (
    <section className="overview" aria-label="Resumo numérico">
      <h2 className="modo-busca" data-testid="modo-busca" data-modo={modo}>
        {describeModo(modo, request?.data_inicial, request?.data_final)}
        <span className="hint"> · {ordem}</span>
      </h2>
      <dl className="counts">
        <div>
          <dt>Total lido</dt>
          <dd data-testid="total-raw">{answer.total_raw.toLocaleString("pt-BR")}</dd>
        </div>
        <div>
          <dt>Total filtrado</dt>
          <dd data-testid="total-filtrado">{answer.total_filtrado.toLocaleString("pt-BR")}</dd>
        </div>
      </dl>
      <FonteDados fonte={answer.fonte} atualizadoEm={answer.atualizado_em} />
      {avisos.length > 0 && (
        <ul className="notice" data-testid="avisos">
          {avisos.map((aviso, i) => (
            <li key={i}>{aviso}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
