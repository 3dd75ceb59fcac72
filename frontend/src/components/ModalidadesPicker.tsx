import { MODALIDADES } from "../codes";

interface Props {
  selected: readonly number[];
  onChange: (codigos: number[]) => void;
}

/** PNCP modalidades as checkboxes, code and name. */
export function ModalidadesPicker({ selected, onChange }: Props) {
  const chosen = new Set(selected);
  const toggle = (codigo: number) => {
    const next = new Set(chosen);
    if (next.has(codigo)) next.delete(codigo);
    else next.add(codigo);
    onChange(MODALIDADES.map((m) => m.codigo).filter((c) => next.has(c)));
  };
  return (
    <fieldset className="modalidades">
      <legend>Modalidades</legend>
      <div className="modalidade-grid">
        {MODALIDADES.map(({ codigo, nome }) => (
          <label key={codigo} className="check">
            <input
              type="checkbox"
              data-testid={`modalidade-${codigo}`}
              checked={chosen.has(codigo)}
              onChange={() => toggle(codigo)}
            />
            <span>
              <span className="codigo">{codigo}</span> {nome}
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
