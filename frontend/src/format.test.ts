import { describe, expect, it } from "vitest";

import { formatIdade, formatInstanteBrasilia, parseInstante } from "./format";

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
