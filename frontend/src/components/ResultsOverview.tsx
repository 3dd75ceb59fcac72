import type { BuscaResponse } from "../types";
import { FonteDados } from "./FonteDados";

/** Counts, where the data came from, states PNCP could not fully answer, and the server's notes. */
export function ResultsOverview({ answer }: { answer: BuscaResponse }) {
  const falhas = answer.ufs_com_falha ?? [];
  const avisos = answer.avisos ?? [];
  return (
    <section className="overview" aria-label="Resumo numérico">
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
      {falhas.length > 0 && (
        <div className="notice warning" data-testid="ufs-com-falha">
          <p>
            <strong>Resultados parciais:</strong> o PNCP não respondeu completamente para{" "}
            {falhas.map((f) => f.uf).join(", ")}.
          </p>
          <ul>
            {falhas.map((f) => (
              <li key={f.uf}>
                <strong>{f.uf}:</strong> {f.mensagem}
              </li>
            ))}
          </ul>
        </div>
      )}
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
