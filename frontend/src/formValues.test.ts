import { describe, expect, it } from "vitest";

import { type FormValues, checkValues, defaultValues } from "./formValues";

const filled = (overrides: Partial<FormValues> = {}): FormValues => ({
  ...defaultValues(new Date(2026, 10, 20)),
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
