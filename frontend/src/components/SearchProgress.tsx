import { type StageName, isStageName } from "../codes";
import type { Connection } from "../hooks/searchState";

interface Props {
  stage: string | null;
  progress: number;
  message: string;
  failed: boolean;
  connection: Connection;
  running: boolean;
}

/** One label per stage of the backend's table (`STAGES`): a new stage fails the type check here. */
const STAGE_LABELS: Readonly<Record<StageName, string>> = {
  connecting: "Conectando",
  fetching: "Consultando o PNCP",
  partial_results: "Resultados parciais",
  filtering: "Filtrando",
  results_ready: "Resultados prontos",
  llm_ready: "Resumo pronto",
  excel_ready: "Planilha pronta",
  excel_failed: "Planilha indisponível",
  complete: "Concluída",
  error: "Erro",
};

const CONNECTION_NOTES: Partial<Record<Connection, string>> = {
  reconnecting: "Conexão interrompida; reconectando…",
  polling: "Acompanhando a busca por consultas periódicas…",
};

/** The search's progress: a bar with the current stage and its message. */
export function SearchProgress({ stage, progress, message, failed, connection, running }: Props) {
  const value = Math.max(0, Math.min(100, progress));
  const label = stage ? (isStageName(stage) ? STAGE_LABELS[stage] : stage) : "";
  const note = running ? CONNECTION_NOTES[connection] : undefined;
  return (
    <section
      className={`progress${failed ? " failed" : ""}`}
      data-testid="progress"
      data-stage={stage ?? ""}
      aria-label="Progresso da busca"
    >
      <div
        className="bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        aria-valuetext={`${value}% – ${label}`}
      >
        <div className="fill" style={{ width: `${value}%` }} />
      </div>
      <p className="stage" role="status" aria-live="polite">
        <strong>{label}</strong>
        {message && label ? " · " : ""}
        <span data-testid="progress-message">{message}</span>
      </p>
      {note && <p className="hint">{note}</p>}
    </section>
  );
}
