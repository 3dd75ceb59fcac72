import { formatDataHora, formatDiasRestantes, prazoEncerramento } from "../format";

interface Props {
  /** Brasília wall clock, no offset. */
  encerramento: string | null | undefined;
  /** The browser's clock (ms), from the table's one clock. */
  agora: number;
}

/** When proposals close, and how many days are left (in Brasília time). */
export function Encerramento({ encerramento, agora }: Props) {
  const prazo = prazoEncerramento(encerramento, agora);
  const dias = formatDiasRestantes(encerramento, agora);
  let urgencia = "";
  if (prazo?.encerrada) urgencia = "encerrada";
  else if (prazo && prazo.dias <= 1) urgencia = "urgente";
  return (
    <>
      {formatDataHora(encerramento)}
      {dias && " "}
      {dias && (
        <span className={`dias-restantes ${urgencia}`.trim()} data-testid="dias-restantes">
          {dias}
        </span>
      )}
    </>
  );
}
