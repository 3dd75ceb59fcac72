import type { Plano } from "../types";

interface Props {
  /** The server's reason (which limit, when it renews). */
  detail: string;
  plano: Plano | null;
}

/** A search the plan does not allow, and how to get more. */
export function QuotaExceeded({ detail, plano }: Props) {
  return (
    <div className="notice warning" role="alert" data-testid="quota-exceeded">
      <p>{detail}</p>
      <p className="hint">
        {plano !== null && `Seu plano: ${plano.nome}. `}
        {plano?.id !== "pro" && "Para mais buscas, assine o plano Pro."}
      </p>
    </div>
  );
}
