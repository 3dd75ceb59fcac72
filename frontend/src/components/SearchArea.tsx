import { useCallback, useMemo, useState } from "react";

import type { Api } from "../api";
import { isPartial, partialCount, partialRows, ufFailures } from "../hooks/searchState";
import { useSearch } from "../hooks/useSearch";
import { useSetores } from "../hooks/useSetores";
import type { MinhaBusca, Plano } from "../types";
import { ExcelDownload } from "./ExcelDownload";
import { MinhasBuscas } from "./MinhasBuscas";
import { QuotaExceeded } from "./QuotaExceeded";
import { ResultadosParciais } from "./ResultadosParciais";
import { ResultsOverview } from "./ResultsOverview";
import { ResultsTable } from "./ResultsTable";
import { ResumoCard } from "./ResumoCard";
import { SearchForm } from "./SearchForm";
import { SearchProgress } from "./SearchProgress";
import { UfFalhas } from "./UfFalhas";

/** What the page knows of a signed-in person. */
export interface SignedIn {
  plano: Plano | null;
  /** After each search's answer: the searches left changed. */
  onAnswered: () => void;
}

interface Props {
  api: Api;
  /** Absent without sign-in: no plan, no "Minhas buscas". */
  signedIn?: SignedIn;
}

/** The search form, the search under way or reopened, its results, and the person's searches. */
export function SearchArea({ api, signedIn }: Props) {
  const setores = useSetores();
  const [answers, setAnswers] = useState(0);
  const afterAnswer = signedIn?.onAnswered;
  const onAnswered = useCallback(() => {
    setAnswers((n) => n + 1);
    afterAnswer?.();
  }, [afterAnswer]);
  const { state, running, search, reopen } = useSearch({ api, onAnswered });
  const { answer } = state;
  const parcial = isPartial(state);
  const partial = useMemo(() => partialRows(state.partial), [state.partial]);
  // Partial rows until the answer, then the answer's ranking, once.
  const rows = answer !== null ? answer.licitacoes : parcial ? partial : [];

  const open = useCallback(
    (busca: MinhaBusca) => {
      void reopen(busca);
      document.getElementById("busca-atual")?.scrollIntoView?.({ block: "start" });
    },
    [reopen],
  );

  return (
    <>
      <SearchForm
        setores={setores}
        onSearch={search}
        busy={running && answer === null}
        serverErrors={state.fieldErrors}
      />

      <div id="busca-atual">
        {state.searchId !== null && (
          <SearchProgress
            stage={state.stage}
            progress={state.progress}
            message={state.message}
            failed={state.error !== null}
            connection={state.connection}
            running={running}
          />
        )}

        {state.error !== null && state.refusedByPlan && (
          <QuotaExceeded detail={state.error} plano={signedIn?.plano ?? null} />
        )}

        {state.error !== null && state.fieldErrors.length === 0 && !state.refusedByPlan && (
          <p className="notice error" role="alert" data-testid="search-error">
            {state.error}
          </p>
        )}

        {(answer !== null || parcial) && (
          <div className="results-area">
            {answer !== null ? (
              <ResultsOverview answer={answer} request={state.request} />
            ) : (
              <ResultadosParciais {...partialCount(state)} />
            )}
            <UfFalhas falhas={ufFailures(state)} />
            {answer !== null && (
              <div className="cards">
                <ResumoCard status={state.llmStatus} resumo={state.resumo} provisional={state.resumoProvisional} />
                <ExcelDownload status={state.excelStatus} url={state.excelUrl} error={state.excelError} />
              </div>
            )}
            {rows.length > 0 ? (
              <ResultsTable licitacoes={rows} parcial={answer === null} />
            ) : (
              answer !== null && (
                <p className="notice" data-testid="no-results">
                  Nenhuma licitação encontrada com esses filtros. Tente mais estados, um período maior ou outras
                  modalidades.
                </p>
              )
            )}
          </div>
        )}
      </div>

      {signedIn && (
        <MinhasBuscas
          api={api}
          setores={setores.setores}
          refreshKey={answers}
          openId={state.searchId}
          onOpen={open}
        />
      )}
    </>
  );
}
