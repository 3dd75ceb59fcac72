import type { Modo } from "../types";

interface Props {
  modo: Modo;
  onChange: (modo: Modo) => void;
}

/** In the words of the one who bids: the period's publications, or every one still taking proposals. */
const OPCOES: readonly { modo: Modo; label: string }[] = [
  { modo: "publicacao", label: "Publicadas no período" },
  { modo: "abertas", label: "Abertas agora" },
];

/** What to search: the licitações published in a period, or those open now, whenever published. */
export function ModoPicker({ modo, onChange }: Props) {
  return (
    <fieldset className="modo">
      <legend>Quais licitações</legend>
      <div className="modo-options">
        {OPCOES.map((opcao) => (
          <label key={opcao.modo} className="check">
            <input
              type="radio"
              name="modo"
              value={opcao.modo}
              data-testid={`modo-${opcao.modo}`}
              checked={modo === opcao.modo}
              onChange={() => onChange(opcao.modo)}
            />
            <span>{opcao.label}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
