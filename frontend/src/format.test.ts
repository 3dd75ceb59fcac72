import { afterEach, describe, expect, it } from "vitest";

import {
  describeModo,
  formatDiasRestantes,
  formatIdade,
  formatInstanteBrasilia,
  parseInstante,
  prazoEncerramento,
  relogioBrasilia,
} from "./format";

const ATUALIZADO = "2026-12-01T11:02:00+00:00";
const AT = Date.parse("2026-12-01T11:02:00Z");
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The age of `ATUALIZADO` seen `ms` later. */
const ageAfter = (ms: number) => formatIdade(ATUALIZADO, AT + ms);

describe("formatIdade (how old the data is)", () => {
  it("says 'agora mesmo' for anything under a minute", () => {
    expect(ageAfter(0)).toBe("agora mesmo");
    expect(ageAfter(1 * SECOND)).toBe("agora mesmo");
    expect(ageAfter(59 * SECOND + 999)).toBe("agora mesmo");
  });

  it("counts whole minutes from 1 to 59", () => {
    expect(ageAfter(1 * MINUTE)).toBe("há 1 min");
    expect(ageAfter(4 * MINUTE + 59 * SECOND)).toBe("há 4 min");
    expect(ageAfter(59 * MINUTE)).toBe("há 59 min");
    expect(ageAfter(HOUR - 1)).toBe("há 59 min");
  });

  it("counts whole hours from 1 to 23", () => {
    expect(ageAfter(HOUR)).toBe("há 1 h");
    expect(ageAfter(2 * HOUR + 59 * MINUTE)).toBe("há 2 h");
    expect(ageAfter(23 * HOUR)).toBe("há 23 h");
    expect(ageAfter(DAY - 1)).toBe("há 23 h");
  });

  it("counts days from 24 hours on, singular for one", () => {
    expect(ageAfter(DAY)).toBe("há 1 dia");
    expect(ageAfter(2 * DAY - 1)).toBe("há 1 dia");
    expect(ageAfter(2 * DAY)).toBe("há 2 dias");
    expect(ageAfter(45 * DAY)).toBe("há 45 dias");
  });

  it("says 'agora mesmo' for a time in the future (the server's clock ahead of the browser's)", () => {
    expect(ageAfter(-5 * SECOND)).toBe("agora mesmo");
    expect(ageAfter(-3 * MINUTE)).toBe("agora mesmo");
    expect(ageAfter(-2 * DAY)).toBe("agora mesmo");
  });

  it("reads the offset, a Z and fractions of a second", () => {
    expect(formatIdade("2026-12-01T08:02:00-03:00", AT + 4 * MINUTE)).toBe("há 4 min");
    expect(formatIdade("2026-12-01T11:02:00Z", AT + 2 * HOUR)).toBe("há 2 h");
    expect(formatIdade("2026-12-01T11:02:00.123456+00:00", AT + 3 * MINUTE)).toBe("há 2 min");
    expect(formatIdade("2026-12-01T11:02+00:00", AT + 3 * MINUTE)).toBe("há 3 min");
  });

  it("gives nothing for a missing or invalid date-time", () => {
    for (const value of [
      null,
      undefined,
      "",
      "   ",
      "ontem",
      "2026-12-01", // a date only
      "2026-12-01T11:02:00", // no offset: which time zone?
      "2026-02-30T10:00:00Z", // no such day
      "2026-12-01T24:00:00Z",
      "2026-12-01T11:60:00Z",
      "2026-12-01T11:02:00+25:00",
      "1796122920000",
    ]) {
      expect(formatIdade(value, AT), String(value)).toBeNull();
      expect(parseInstante(value), String(value)).toBeNull();
    }
    expect(formatIdade(ATUALIZADO, Number.NaN)).toBeNull();
  });
});

describe("formatInstanteBrasilia", () => {
  it("shows the moment in Brasília time as dd/mm/aaaa hh:mm", () => {
    expect(formatInstanteBrasilia(ATUALIZADO)).toBe("01/12/2026 08:02");
    expect(formatInstanteBrasilia("2026-12-01T02:30:00Z")).toBe("30/11/2026 23:30");
    expect(formatInstanteBrasilia("2026-12-01T08:02:00-03:00")).toBe("01/12/2026 08:02");
    expect(formatInstanteBrasilia("2026-12-01T00:05:00+01:00")).toBe("30/11/2026 20:05");
  });

  it("gives nothing for an invalid date-time", () => {
    expect(formatInstanteBrasilia(null)).toBeNull();
    expect(formatInstanteBrasilia("2026-12-01T11:02:00")).toBeNull();
  });
});

describe("formatDiasRestantes (days left to bid, in Brasília time)", () => {
  const originalTz = process.env.TZ;
  afterEach(() => {
    process.env.TZ = originalTz;
  });

  /** A moment given as Brasília wall-clock time (UTC-3, no daylight saving since 2019). */
  const brasilia = (wallClock: string) => Date.parse(`${wallClock}-03:00`);

  it("says today, tomorrow, N days, or closed", () => {
    const agora = brasilia("2026-11-20T10:00:00");
    expect(formatDiasRestantes("2026-11-20T17:30:00", agora)).toBe("encerra hoje");
    expect(formatDiasRestantes("2026-11-20T23:59:59", agora)).toBe("encerra hoje");
    expect(formatDiasRestantes("2026-11-21T08:00:00", agora)).toBe("encerra amanhã");
    expect(formatDiasRestantes("2026-11-22T00:00:00", agora)).toBe("2 dias");
    expect(formatDiasRestantes("2026-12-20T09:00:00", agora)).toBe("30 dias");
    expect(formatDiasRestantes("2027-01-01T09:00:00", agora)).toBe("42 dias"); // across the year
  });

  it("is closed from the closing minute on, and for any earlier day", () => {
    const agora = brasilia("2026-11-20T17:30:00");
    expect(formatDiasRestantes("2026-11-20T17:30:01", agora)).toBe("encerra hoje");
    expect(formatDiasRestantes("2026-11-20T17:30:00", agora)).toBe("encerrada");
    expect(formatDiasRestantes("2026-11-20T17:29", agora)).toBe("encerrada");
    expect(formatDiasRestantes("2026-11-19T23:00:00", agora)).toBe("encerrada");
    expect(formatDiasRestantes("2025-01-01T00:00:00", agora)).toBe("encerrada");
  });

  it("turns the day at midnight in Brasília, whatever the browser's time zone", () => {
    for (const tz of ["Asia/Tokyo", "UTC", "America/Los_Angeles"]) {
      process.env.TZ = tz;
      const antes = brasilia("2026-11-19T23:59:00"); // 02:59 UTC on the 20th
      const depois = brasilia("2026-11-20T00:01:00");
      expect(formatDiasRestantes("2026-11-20T10:00:00", antes), tz).toBe("encerra amanhã");
      expect(formatDiasRestantes("2026-11-20T10:00:00", depois), tz).toBe("encerra hoje");
      expect(formatDiasRestantes("2026-11-19T23:59:30", antes), tz).toBe("encerra hoje");
      expect(formatDiasRestantes("2026-11-19T23:59:30", depois), tz).toBe("encerrada");
      expect(formatDiasRestantes("2026-11-22T10:00:00", antes), tz).toBe("3 dias");
      expect(formatDiasRestantes("2026-11-22T10:00:00", depois), tz).toBe("2 dias");
    }
    // The zones really applied: in Tokyo the browser's own calendar is already a day ahead.
    process.env.TZ = "Asia/Tokyo";
    expect(new Date(brasilia("2026-11-19T23:59:00")).getDate()).toBe(20);
    expect(relogioBrasilia(brasilia("2026-11-19T23:59:00"))).toBe("2026-11-19T23:59:00");
    process.env.TZ = "America/Los_Angeles";
    expect(new Date(brasilia("2026-11-20T00:01:00")).getDate()).toBe(19);
  });

  it("reads a date alone as closing at the end of that day", () => {
    expect(formatDiasRestantes("2026-11-20", brasilia("2026-11-20T23:00:00"))).toBe("encerra hoje");
    expect(formatDiasRestantes("2026-11-20", brasilia("2026-11-21T00:00:00"))).toBe("encerrada");
    expect(prazoEncerramento("2026-11-25 09:00", brasilia("2026-11-20T10:00:00"))).toEqual({ encerrada: false, dias: 5 });
  });

  it("gives nothing without a valid closing date-time", () => {
    const agora = brasilia("2026-11-20T10:00:00");
    for (const value of [null, undefined, "", "amanhã", "2026-02-30T10:00:00", "20/11/2026"]) {
      expect(formatDiasRestantes(value, agora), String(value)).toBeNull();
    }
    expect(formatDiasRestantes("2026-11-21T10:00:00", Number.NaN)).toBeNull();
  });
});

describe("describeModo (the results' heading)", () => {
  it("names the mode, with the period of a publication search", () => {
    expect(describeModo("abertas", null, null)).toBe("Abertas agora");
    expect(describeModo("abertas", "2026-11-10", "2026-11-20")).toBe("Abertas agora");
    expect(describeModo("publicacao", "2026-11-10", "2026-11-20")).toBe("Publicadas de 10/11/2026 a 20/11/2026");
    expect(describeModo("publicacao", undefined, "2026-11-20")).toBe("Publicadas no período");
  });
});
