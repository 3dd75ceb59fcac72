import { describe, expect, it } from "vitest";

import { type FormValues, checkValues, defaultValues } from "./formValues";

const filled = (overrides: Partial<FormValues> = {}): FormValues => ({
  ...defaultValues(Date.parse("2026-11-20T15:00:00Z")),
  setorId: "vestuario",
  ufs: ["SP"],
  ...overrides,
});

describe("checkValues", () => {
  it("defaults to the publications of the last days, dates posted", () => {
    const checked = checkValues(filled());
    expect(checked).toEqual({
      ok: true,
      request: {
        setor_id: "vestuario",
        ufs: ["SP"],
        modo: "publicacao",
        data_inicial: "2026-11-10",
        data_final: "2026-11-20",
        modalidades: [4, 5, 6, 7],
        somente_abertas: true,
      },
    });
  });

  it("checks the dates only of a publication search", () => {
    const semDatas = { dataInicial: "", dataFinal: "" };
    expect(checkValues(filled(semDatas))).toEqual({
      ok: false,
      errors: ["Informe a data inicial.", "Informe a data final."],
    });
    const abertas = checkValues(filled({ ...semDatas, modo: "abertas", somenteAbertas: false }));
    expect(abertas.ok).toBe(true);
    if (!abertas.ok) return;
    expect(abertas.request.modo).toBe("abertas");
    expect(abertas.request).not.toHaveProperty("data_inicial");
    expect(abertas.request).not.toHaveProperty("data_final");
    expect(abertas.request.somente_abertas).toBe(true); // open now: all it finds take proposals
    expect(checkValues(filled({ modo: "abertas", dataInicial: "2026-11-20", dataFinal: "2026-11-01" })).ok).toBe(true);
  });
});

describe("Brasília's today, whatever the browser's time zone", () => {
  // From 21:00 in Brasília a browser on UTC (or further east) is already on the next day.
  const at0130Utc = Date.parse("2026-12-08T01:30:00Z"); // 22:30 of the 7th in Brasília
  const at2330Brasilia = Date.parse("2026-12-07T23:30:00-03:00"); // 02:30 UTC of the 8th

  it("opens with the last days up to Brasília's today", () => {
    for (const agora of [at0130Utc, at2330Brasilia]) {
      const values = defaultValues(agora);
      expect([values.dataInicial, values.dataFinal]).toEqual(["2026-11-27", "2026-12-07"]);
    }
    expect(defaultValues(Date.parse("2026-12-08T03:00:00Z")).dataFinal).toBe("2026-12-08"); // midnight in Brasília
  });

  it("refuses a day that has not begun in Brasília and takes its today", () => {
    for (const agora of [at0130Utc, at2330Brasilia]) {
      expect(checkValues(filled({ dataInicial: "2026-12-01", dataFinal: "2026-12-08" }), agora)).toEqual({
        ok: false,
        errors: ["A data final não pode passar de hoje, 07/12/2026 em Brasília: ainda não há publicações depois."],
      });
      expect(checkValues(filled({ dataInicial: "2026-12-01", dataFinal: "2026-12-07" }), agora).ok).toBe(true);
    }
  });
});
