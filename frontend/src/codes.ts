/**
 * The page's code tables. UFs, IBGE regions, modalidades, the search's limits and the progress
 * stages are the backend's own (`backend/codes.py`, `backend/progress/events.py`), generated into
 * `codes.generated.ts`; what is here only looks them up.
 */
import { STAGES, type Stage, type StageName } from "./codes.generated";

export * from "./codes.generated";

/** Each stage by its name. */
export const STAGE_BY_NAME = Object.fromEntries(STAGES.map((stage) => [stage.name, stage])) as Readonly<
  Record<StageName, Stage>
>;

/** Stages the server sends once per search (backend `progress.events.ONCE_STAGES`). */
export const ONCE_STAGES: ReadonlySet<string> = new Set(STAGES.filter((s) => s.once).map((s) => s.name));

/** Stages that end a search's stream (backend `progress.events.TERMINAL_STAGES`). */
export const TERMINAL_STAGES: ReadonlySet<string> = new Set(STAGES.filter((s) => s.terminal).map((s) => s.name));

/** A stage the page knows (a newer server may send others). */
export function isStageName(value: string): value is StageName {
  return Object.hasOwn(STAGE_BY_NAME, value);
}
