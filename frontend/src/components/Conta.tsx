import { formatDataHora } from "../format";
import type { Conta as ContaData } from "../types";

interface Props {
  email: string;
  /** Null until `GET /v1/conta` answered. */
  conta: ContaData | null;
  error: string | null;
  onLogout: () => void;
}

/** Who is signed in, their plan and the searches left this month; and the way out. */
export function Conta({ email, conta, error, onLogout }: Props) {
  return (
    <section className="conta" aria-label="Sua conta">
      <span className="conta-email">{email}</span>
      {conta?.plano && (
        <span className="conta-plano">
          Plano <strong data-testid="conta-plano">{conta.plano.nome}</strong>
        </span>
      )}
      {conta !== null && <Quota conta={conta} />}
      {conta === null && error !== null && <span className="hint error">{error}</span>}
      <button type="button" data-testid="logout" onClick={onLogout}>
        Sair
      </button>
    </section>
  );
}

function Quota({ conta }: { conta: ContaData }) {
  const { buscas_mes: total, restantes, renova_em: renovaEm } = conta;
  if (total === null || restantes === null) {
    return (
      <span className="quota" data-testid="quota">
        Buscas ilimitadas
      </span>
    );
  }
  return (
    <span className={restantes === 0 ? "quota esgotada" : "quota"} data-testid="quota" data-restantes={restantes}>
      {describeQuota(restantes, total, renovaEm)}
    </span>
  );
}

/** "7 de 10 buscas restantes neste mês · renovam em 01/01/2027". */
export function describeQuota(restantes: number, total: number, renovaEm: string | null): string {
  const buscas = restantes === 1 ? "busca restante" : "buscas restantes";
  const texto = `${restantes} de ${total} ${buscas} neste mês`;
  return renovaEm ? `${texto} · renovam em ${formatDataHora(renovaEm)}` : texto;
}
