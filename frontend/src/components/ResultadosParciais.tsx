import type { PartialCount } from "../hooks/searchState";

/** While the search runs: the rows shown are partial, how many UFs are in, and what comes at the end. */
export function ResultadosParciais({ lidas, total, mostradas, encontradas }: PartialCount) {
  const ufs = total === 1 ? "UF lida" : "UFs lidas";
  return (
    <p className="notice parcial" role="status" data-testid="resultados-parciais">
      <strong>Resultados parciais:</strong> {lidas} de {total} {ufs}; a lista final, ordenada, chega ao fim da busca.
      {encontradas > mostradas && (
        <>
          {" "}
          Mostrando as {mostradas.toLocaleString("pt-BR")} melhores de {encontradas.toLocaleString("pt-BR")}{" "}
          encontradas até agora.
        </>
      )}
    </p>
  );
}
