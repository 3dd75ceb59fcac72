import { type FormEvent, useEffect, useState } from "react";

import { type FormValues, checkValues, defaultValues } from "../formValues";
import { hojeBrasilia } from "../format";
import type { SetoresState } from "../hooks/useSetores";
import type { SearchInput } from "../types";
import { ModalidadesPicker } from "./ModalidadesPicker";
import { ModoPicker } from "./ModoPicker";
import { UfPicker } from "./UfPicker";

interface Props {
  /** The sectors to choose from (`GET /v1/setores`). */
  setores: SetoresState;
  onSearch: (request: SearchInput) => void;
  busy: boolean;
  /** The server's 422 messages for the last search. */
  serverErrors: readonly string[];
}

export function SearchForm({ setores: sectors, onSearch, busy, serverErrors }: Props) {
  const { setores, loading, error: setoresError } = sectors;
  const [values, setValues] = useState<FormValues>(() => defaultValues());
  const [errors, setErrors] = useState<string[]>([]);

  // Once the sectors are in, the first one is chosen.
  const firstSetor = setores[0]?.id;
  useEffect(() => {
    if (firstSetor) setValues((v) => (v.setorId ? v : { ...v, setorId: firstSetor }));
  }, [firstSetor]);

  const set = <K extends keyof FormValues>(key: K, value: FormValues[K]) =>
    setValues((v) => ({ ...v, [key]: value }));

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const checked = checkValues(values);
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors([]);
    onSearch(checked.request);
  };

  const porPeriodo = values.modo === "publicacao";
  const descricao = setores.find((s) => s.id === values.setorId)?.descricao;
  const shownErrors = errors.length > 0 ? errors : serverErrors;

  return (
    <form className="search-form" data-testid="search-form" onSubmit={submit} noValidate aria-describedby="form-errors">
      <div className="field">
        <label htmlFor="setor">Setor</label>
        <select
          id="setor"
          data-testid="setor-select"
          value={values.setorId}
          onChange={(e) => set("setorId", e.target.value)}
          disabled={loading || setores.length === 0}
          aria-describedby="setor-descricao"
        >
          {loading && <option value="">Carregando setores…</option>}
          {setores.map((s) => (
            <option key={s.id} value={s.id}>
              {s.nome}
            </option>
          ))}
        </select>
        <p id="setor-descricao" className="hint">
          {setoresError ?? descricao ?? ""}
        </p>
      </div>

      <UfPicker selected={values.ufs} onChange={(ufs) => set("ufs", ufs)} />

      <ModoPicker modo={values.modo} onChange={(modo) => set("modo", modo)} />

      <div className="row">
        {porPeriodo ? (
          <PeriodoFields
            dataInicial={values.dataInicial}
            dataFinal={values.dataFinal}
            hoje={hojeBrasilia(Date.now())}
            onChange={(key, value) => set(key, value)}
          />
        ) : (
          <p className="hint modo-hint" data-testid="modo-abertas-hint">
            Todas as licitações com propostas abertas agora, de qualquer data de publicação.
          </p>
        )}
        <MoneyField id="valor-minimo" label="Valor mínimo (R$)" value={values.valorMinimo}
          onChange={(value) => set("valorMinimo", value)} />
        <MoneyField id="valor-maximo" label="Valor máximo (R$)" value={values.valorMaximo}
          onChange={(value) => set("valorMaximo", value)} />
      </div>

      <ModalidadesPicker selected={values.modalidades} onChange={(m) => set("modalidades", m)} />

      <div className="row">
        <div className="field grow">
          <label htmlFor="termos-busca">Termos de busca</label>
          <input
            id="termos-busca"
            type="text"
            maxLength={500}
            placeholder="ex.: jaleco, uniforme escolar"
            data-testid="termos-busca"
            value={values.termosBusca}
            onChange={(e) => set("termosBusca", e.target.value)}
            aria-describedby="termos-hint"
          />
          <p id="termos-hint" className="hint">
            Opcional. Separe por vírgulas; a licitação deve conter ao menos um dos termos.
          </p>
        </div>
        {porPeriodo && (
          <label className="check standalone">
            <input
              type="checkbox"
              data-testid="somente-abertas"
              checked={values.somenteAbertas}
              onChange={(e) => set("somenteAbertas", e.target.checked)}
            />
            <span>Somente abertas (ainda recebendo propostas)</span>
          </label>
        )}
      </div>

      <div id="form-errors" aria-live="assertive">
        {shownErrors.length > 0 && (
          <ul className="errors" role="alert" data-testid="form-errors">
            {shownErrors.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        )}
      </div>

      <button type="submit" className="primary" data-testid="submit" disabled={busy}>
        {busy ? "Buscando…" : "Buscar"}
      </button>
    </form>
  );
}

/** The publication period of a "Publicadas no período" search. */
function PeriodoFields(props: {
  dataInicial: string;
  dataFinal: string;
  /** Brasília's today: no publication after it yet. */
  hoje: string;
  onChange: (key: "dataInicial" | "dataFinal", value: string) => void;
}) {
  return (
    <>
      <div className="field">
        <label htmlFor="data-inicial">Data inicial</label>
        <input
          id="data-inicial"
          type="date"
          data-testid="data-inicial"
          value={props.dataInicial}
          max={props.dataFinal || props.hoje}
          onChange={(e) => props.onChange("dataInicial", e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="data-final">Data final</label>
        <input
          id="data-final"
          type="date"
          data-testid="data-final"
          value={props.dataFinal}
          min={props.dataInicial || undefined}
          max={props.hoje}
          onChange={(e) => props.onChange("dataFinal", e.target.value)}
        />
      </div>
    </>
  );
}

function MoneyField(props: { id: string; label: string; value: string; onChange: (value: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        inputMode="decimal"
        min={0}
        step="any"
        placeholder="opcional"
        data-testid={props.id}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  );
}
