/** How values and dates read on the page (pt-BR). */
import type { Modo } from "./types";

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

/** Whole days from one `YYYY-MM-DD` to another. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** The `YYYY-MM-DD` `dias` days after (or before, when negative) another. */
export function addDias(day: string, dias: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + dias * 86_400_000).toISOString().slice(0, 10);
}

/** ISO 8601 date-time with seconds optional, fraction optional and offset required. */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/**
 * The moment of an ISO 8601 date-time with an offset (`"2026-12-01T11:02:00+00:00"`, `...Z`), in
 * milliseconds; null for anything else. A time without offset is refused rather than guessed, and
 * so is an impossible date (Feb 30th), which `Date.parse` would roll over into March.
 */
export function parseInstante(value: string | null | undefined): number | null {
  const text = typeof value === "string" ? value.trim() : "";
  const match = INSTANT.exec(text);
  if (!match) return null;
  const [, ano = 0, mes = 0, dia = 0] = match.map(Number);
  const day = new Date(Date.UTC(ano, mes - 1, dia));
  if (day.getUTCMonth() !== mes - 1 || day.getUTCDate() !== dia) return null;
  const instante = Date.parse(text);
  return Number.isNaN(instante) ? null : instante;
}

/** What `formatIdade` says of data less than a minute old. */
export const AGORA_MESMO = "agora mesmo";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How long before `agora` (ms, the browser's clock) `atualizadoEm` (ISO 8601 with offset) was: "agora mesmo"
 * (under a minute, or in the future: the server's clock ahead of the browser's), "há 5 min",
 * "há 2 h", "há 1 dia", "há 3 dias". Whole units, rounded down. Null when it is not a date-time.
 */
export function formatIdade(atualizadoEm: string | null | undefined, agora: number = Date.now()): string | null {
  const instante = parseInstante(atualizadoEm);
  if (instante === null || !Number.isFinite(agora)) return null;
  const idade = agora - instante;
  if (idade < MINUTE) return AGORA_MESMO;
  if (idade < HOUR) return `há ${Math.floor(idade / MINUTE)} min`;
  if (idade < DAY) return `há ${Math.floor(idade / HOUR)} h`;
  const dias = Math.floor(idade / DAY);
  return dias === 1 ? "há 1 dia" : `há ${dias} dias`;
}

const BRASILIA = new Intl.DateTimeFormat("pt-BR", {
  timeZone: "America/Sao_Paulo",
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** `"2026-12-01T11:02:00+00:00"` -> "01/12/2026 08:02", the moment in Brasília time; null if invalid. */
export function formatInstanteBrasilia(value: string | null | undefined): string | null {
  const instante = parseInstante(value);
  if (instante === null) return null;
  const parts = Object.fromEntries(BRASILIA.formatToParts(instante).map((p) => [p.type, p.value]));
  return `${parts.day}/${parts.month}/${parts.year} ${parts.hour}:${parts.minute}`;
}

const BRASILIA_RELOGIO = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/Sao_Paulo",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** The Brasília wall clock at a moment (ms), as `"YYYY-MM-DDTHH:MM:SS"`, whatever the browser's zone. */
export function relogioBrasilia(agora: number): string {
  const p = Object.fromEntries(BRASILIA_RELOGIO.formatToParts(agora).map((part) => [part.type, part.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

/**
 * Brasília's calendar day at a moment (ms), as `YYYY-MM-DD`: the day PNCP publishes by, whatever
 * the browser's time zone (from 21:00 in Brasília a browser on UTC is already on the next day).
 */
export function hojeBrasilia(agora: number): string {
  return relogioBrasilia(agora).slice(0, 10);
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?)?/;

/**
 * A Brasília wall-clock date-time of the API (`"2026-11-25T17:30:00"`, no offset) as
 * `"YYYY-MM-DDTHH:MM:SS"`; a date alone ends at 23:59:59. Null when it is not one (or no such day).
 */
function parseWallClock(value: string | null | undefined): string | null {
  const match = value ? WALL_CLOCK.exec(value.trim()) : null;
  if (!match) return null;
  const [, ano, mes, dia, hora, minuto, segundo] = match;
  const day = new Date(Date.UTC(Number(ano), Number(mes) - 1, Number(dia)));
  if (day.getUTCMonth() !== Number(mes) - 1 || day.getUTCDate() !== Number(dia)) return null;
  const time = hora === undefined ? "23:59:59" : `${hora}:${minuto}:${segundo ?? "00"}`;
  return `${ano}-${mes}-${dia}T${time}`;
}

/** How long a licitação still takes proposals, in Brasília calendar days. */
export interface Prazo {
  /** The closing moment passed. */
  encerrada: boolean;
  /** Days from today's Brasília date to the closing date: 0 closes today, 1 tomorrow. */
  dias: number;
}

/**
 * The time left until `encerramento` (Brasília wall clock, no offset) seen at `agora` (ms, the
 * browser's clock), both read in Brasília time; null without a valid closing date-time.
 */
export function prazoEncerramento(encerramento: string | null | undefined, agora: number): Prazo | null {
  const fim = parseWallClock(encerramento);
  if (fim === null || !Number.isFinite(agora)) return null;
  const agoraBrasilia = relogioBrasilia(agora);
  const dias = daysBetween(agoraBrasilia.slice(0, 10), fim.slice(0, 10));
  return { encerrada: fim <= agoraBrasilia, dias }; // same shape: compares as text
}

/** "encerra hoje", "encerra amanhã", "5 dias" or "encerrada"; null without a valid closing date-time. */
export function formatDiasRestantes(encerramento: string | null | undefined, agora: number = Date.now()): string | null {
  const prazo = prazoEncerramento(encerramento, agora);
  if (prazo === null) return null;
  if (prazo.encerrada) return "encerrada";
  if (prazo.dias <= 0) return "encerra hoje";
  if (prazo.dias === 1) return "encerra amanhã";
  return `${prazo.dias} dias`;
}

/** The results' heading: "Abertas agora", or "Publicadas de 10/11/2026 a 20/11/2026". */
export function describeModo(
  modo: Modo,
  dataInicial: string | null | undefined,
  dataFinal: string | null | undefined,
): string {
  if (modo === "abertas") return "Abertas agora";
  if (!dataInicial || !dataFinal) return "Publicadas no período";
  return `Publicadas de ${formatDataHora(dataInicial)} a ${formatDataHora(dataFinal)}`;
}
