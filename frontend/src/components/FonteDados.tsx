import { AGORA_MESMO, formatIdade, formatInstanteBrasilia } from "../format";
import { useNow } from "../hooks/useNow";
import type { Fonte } from "../types";

/** How often the age of the data is worked out again while the page is open. */
export const FONTE_REFRESH_MS = 30_000;

/** One label per `fonte` of the API: a new value fails the type check here. */
const FONTE_LABELS: Readonly<Record<Fonte, string>> = {
  indice: "Dados do índice local do PNCP",
  pncp: "Dados lidos agora do PNCP",
  misto: "Dados do índice local e do PNCP",
};

interface Props {
  fonte: Fonte | null | undefined;
  /** ISO 8601 with offset: when the oldest part of the data was fetched from PNCP. */
  atualizadoEm: string | null | undefined;
}

/**
 * Where the results came from and how old they are ("Dados do índice local do PNCP · atualizado
 * há 4 min"), with the moment in Brasília time on hover. It keeps its own clock, so the age stays
 * current without re-rendering the results. Nothing for an answer without `fonte` (older APIs).
 */
export function FonteDados({ fonte, atualizadoEm }: Props) {
  const now = useNow(FONTE_REFRESH_MS, Boolean(fonte && atualizadoEm));
  if (!fonte || !Object.hasOwn(FONTE_LABELS, fonte)) return null;
  const idade = formatIdade(atualizadoEm, now);
  const quando = formatInstanteBrasilia(atualizadoEm);
  const time = idade && atualizadoEm ? <time dateTime={atualizadoEm}>{idade}</time> : null;
  let texto;
  if (fonte !== "pncp") {
    texto = time ? <>{FONTE_LABELS[fonte]} · atualizado {time}</> : FONTE_LABELS[fonte];
  } else {
    // Read live: "agora" while it is, then how long ago, as the page stays open.
    texto = time && idade !== AGORA_MESMO ? <>Dados lidos do PNCP {time}</> : FONTE_LABELS.pncp;
  }
  return (
    <p
      className="fonte"
      data-testid="fonte"
      data-fonte={fonte}
      title={quando ? `Obtidos do PNCP em ${quando} (horário de Brasília)` : undefined}
    >
      {texto}
    </p>
  );
}
