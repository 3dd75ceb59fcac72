/** How values and dates read on the page (pt-BR). */

const BRL = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });

/** `1234.5` -> "R$ 1.234,50"; a confidential budget (null) -> "sigiloso". */
export function formatValor(valor: number | null | undefined): string {
  return valor === null || valor === undefined ? "sigiloso" : BRL.format(valor);
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/;

/**
 * `"2026-11-20T17:30:00"` -> "20/11/2026 17:30". The API sends Brasília wall-clock time with no
 * offset, so the text is rearranged, never converted to the browser's time zone.
 */
export function formatDataHora(value: string | null | undefined): string {
  const match = value ? DATE_TIME.exec(value) : null;
  if (!match) return "—";
  const [, ano, mes, dia, hora, minuto] = match;
  const data = `${dia}/${mes}/${ano}`;
  return hora === undefined ? data : `${data} ${hora}:${minuto}`;
}

/** A local date as the `YYYY-MM-DD` of `<input type="date">` and of the API. */
export function isoDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Whole days from one `YYYY-MM-DD` to another. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}
