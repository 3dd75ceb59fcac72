import type { FalhaUF } from "../types";

/**
 * The states PNCP could not fully answer, and why: said by the partial results while the search
 * runs, then by the answer (`ufFailures` merges both, one line per UF).
 */
export function UfFalhas({ falhas }: { falhas: readonly FalhaUF[] }) {
  if (falhas.length === 0) return null;
  return (
    <div className="notice warning" data-testid="ufs-com-falha">
      <p>
        <strong>Dados incompletos:</strong> o PNCP não respondeu completamente para{" "}
        {falhas.map((f) => f.uf).join(", ")}; as licitações desses estados podem estar faltando.
      </p>
      <ul data-testid="uf-falhas">
        {falhas.map((f) => (
          <li key={f.uf} data-testid={`uf-falha-${f.uf}`}>
            <strong>{f.uf}:</strong> {f.mensagem}
          </li>
        ))}
      </ul>
    </div>
  );
}
