import { REGIOES, UFS, UF_CODES } from "../codes";

interface Props {
  selected: readonly string[];
  onChange: (ufs: string[]) => void;
}

/** The 27 states as checkboxes, with shortcuts for all, none and each region. */
export function UfPicker({ selected, onChange }: Props) {
  const chosen = new Set(selected);
  const toggle = (uf: string) => {
    const next = new Set(chosen);
    if (next.has(uf)) next.delete(uf);
    else next.add(uf);
    onChange(UF_CODES.filter((code) => next.has(code)));
  };
  const toggleRegion = (ufs: readonly string[]) => {
    const all = ufs.every((uf) => chosen.has(uf));
    const next = new Set(chosen);
    for (const uf of ufs) {
      if (all) next.delete(uf);
      else next.add(uf);
    }
    onChange(UF_CODES.filter((code) => next.has(code)));
  };

  return (
    <fieldset className="ufs">
      <legend>
        Estados (UFs) <span className="hint">{selected.length} de {UF_CODES.length} escolhidos</span>
      </legend>
      <div className="shortcuts" role="group" aria-label="Atalhos de seleção de estados">
        <button type="button" onClick={() => onChange([...UF_CODES])}>
          Todos
        </button>
        <button type="button" onClick={() => onChange([])}>
          Nenhum
        </button>
        {REGIOES.map((regiao) => (
          <button
            key={regiao.nome}
            type="button"
            aria-pressed={regiao.ufs.every((uf) => chosen.has(uf))}
            onClick={() => toggleRegion(regiao.ufs)}
          >
            {regiao.nome}
          </button>
        ))}
      </div>
      <div className="uf-grid">
        {UF_CODES.map((uf) => (
          <label key={uf} className="check" title={UFS[uf]}>
            <input
              type="checkbox"
              data-testid={`uf-${uf}`}
              checked={chosen.has(uf)}
              onChange={() => toggle(uf)}
              aria-label={`${uf} – ${UFS[uf]}`}
            />
            <span aria-hidden="true">{uf}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
