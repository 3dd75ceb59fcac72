import { formatValor } from "../format";
import type { LlmStatus, ResumoLicitacoes } from "../types";

interface Props {
  status: LlmStatus;
  resumo: ResumoLicitacoes | null;
  provisional: boolean;
}

/** The executive summary: a placeholder or a "prévia" while the LLM writes, then the summary. */
export function ResumoCard({ status, resumo, provisional }: Props) {
  const preview = status === "processing" && provisional && resumo !== null;
  return (
    <section className="card resumo" data-testid="resumo" data-status={status} aria-busy={status === "processing"}>
      <h2>
        Resumo
        {preview && <span className="badge">prévia</span>}
      </h2>
      {resumo === null ? (
        status === "processing" ? (
          <p className="placeholder">
            <span className="spinner" aria-hidden="true" /> Gerando resumo…
          </p>
        ) : (
          <p className="placeholder">Resumo indisponível para esta busca.</p>
        )
      ) : (
        <>
          {preview && <p className="hint">Prévia calculada dos dados; o resumo completo chega em instantes.</p>}
          <p className="executivo">{resumo.resumo_executivo}</p>
          <p className="totais">
            {resumo.total_oportunidades} oportunidade(s) · {formatValor(resumo.valor_total)} em valor estimado
          </p>
          {resumo.alerta_urgencia && (
            <p className="alerta" role="note" data-testid="alerta-urgencia">
              <span aria-hidden="true">⚠ </span>
              {resumo.alerta_urgencia}
            </p>
          )}
          {resumo.destaques && resumo.destaques.length > 0 && (
            <>
              <h3>Destaques</h3>
              <ul className="destaques">
                {resumo.destaques.map((destaque, i) => (
                  <li key={i}>{destaque}</li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </section>
  );
}
