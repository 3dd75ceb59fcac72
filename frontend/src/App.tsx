import { useMemo } from "react";

import { ExcelDownload } from "./components/ExcelDownload";
import { ResultadosParciais } from "./components/ResultadosParciais";
import { ResultsOverview } from "./components/ResultsOverview";
import { ResultsTable } from "./components/ResultsTable";
import { ResumoCard } from "./components/ResumoCard";
import { SearchForm } from "./components/SearchForm";
import { SearchProgress } from "./components/SearchProgress";
import { UfFalhas } from "./components/UfFalhas";
import { isPartial, partialCount, partialRows, ufFailures } from "./hooks/searchState";
import { useSearch } from "./hooks/useSearch";

export function App() {
  const { state, running, search } = useSearch();
  const { answer } = state;
  const parcial = isPartial(state);
  const partial = useMemo(() => partialRows(state.partial), [state.partial]);
  // Partial rows until the answer, then the answer's ranking, once.
  const rows = answer !== null ? answer.licitacoes : parcial ? partial : [];

  return (
    <div className="page">
      <header className="site-header">
        <h1>SmartLic</h1>
        <p>Licitações públicas do PNCP que combinam com o seu setor.</p>
      </header>

      <main>
        <SearchForm onSearch={search} busy={running && answer === null} serverErrors={state.fieldErrors} />

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

        {state.error !== null && state.fieldErrors.length === 0 && (
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
      </main>
    </div>
  );
}
