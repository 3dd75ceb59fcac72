import type { ExcelStatus } from "../types";

interface Props {
  status: ExcelStatus;
  url: string | null;
  /** Why it failed, or why it was not made (the plan has no report). */
  error: string | null;
}

/**
 * The Excel report. The link is used as the server gives it: relative (`/v1/arquivos/...`,
 * local storage, same origin) or absolute (Supabase Storage).
 */
export function ExcelDownload({ status, url, error }: Props) {
  return (
    <section className="card excel" aria-label="Planilha">
      <h2>Planilha</h2>
      {status === "processing" && (
        <p role="status" className="placeholder">
          <span className="spinner" aria-hidden="true" /> Gerando planilha…
        </p>
      )}
      {status === "ready" &&
        (url ? (
          <a className="button" data-testid="excel-download" href={url} rel="noopener">
            Baixar planilha (Excel)
          </a>
        ) : (
          <p data-testid="excel-error">A planilha ficou pronta, mas o link não chegou. Faça a busca de novo.</p>
        ))}
      {status === "failed" && (
        <p className="error" data-testid="excel-error">
          {error ?? "Não foi possível gerar a planilha."}
        </p>
      )}
      {status === "skipped" &&
        (error ? (
          <p className="hint" data-testid="excel-skipped">
            {error}
          </p>
        ) : (
          <p className="hint">Planilha não gerada para esta busca.</p>
        ))}
    </section>
  );
}
