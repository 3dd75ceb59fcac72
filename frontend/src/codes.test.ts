import { describe, expect, it } from "vitest";

import { EVENTS } from "./test/fixtures";
import {
  ONCE_STAGES,
  REGIOES,
  STAGES,
  STAGE_BY_NAME,
  TERMINAL_STAGES,
  UFS,
  UF_CODES,
  isStageName,
} from "./codes";

describe("code tables (generated from the backend)", () => {
  it("every UF is in exactly one IBGE region", () => {
    const inRegions = REGIOES.flatMap((regiao) => regiao.ufs);
    expect([...inRegions].sort()).toEqual(UF_CODES);
    expect(UF_CODES).toEqual(Object.keys(UFS).sort());
  });

  it("looks stages up by name and derives the once and terminal stages from the table", () => {
    expect(STAGES.map((stage) => STAGE_BY_NAME[stage.name])).toEqual(STAGES);
    expect(isStageName("fetching")).toBe(true);
    expect(isStageName("toString")).toBe(false);
    expect([...TERMINAL_STAGES]).toEqual(["complete", "error"]);
    expect(ONCE_STAGES.has("results_ready")).toBe(true);
    expect(ONCE_STAGES.has("fetching")).toBe(false);
  });

  it("the test events carry their stage's progress, in the table's order", () => {
    const run = [
      EVENTS.connecting,
      EVENTS.fetchingSP,
      EVENTS.fetchingRJ,
      EVENTS.filtering,
      EVENTS.resultsReady,
      EVENTS.llmReady,
      EVENTS.excelReady,
      EVENTS.complete,
    ].map((step) => step.event);
    const order = run.map((event) => STAGES.findIndex((stage) => stage.name === event.stage));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    for (const { event } of Object.values(EVENTS)) {
      const stage = STAGES.find((s) => s.name === event.stage);
      expect(stage, event.stage).toBeDefined();
      expect(event.progress).toBeGreaterThanOrEqual(stage!.progress);
      expect(event.progress).toBeLessThanOrEqual(stage!.progress_max ?? stage!.progress);
    }
  });
});
