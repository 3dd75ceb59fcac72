// @vitest-environment node
/**
 * `api.ts` must be exactly what openapi-typescript makes of `openapi.json` (as `npm run
 * gen:types` writes it), so the page's types cannot drift from the backend's schema.
 */
import { readFile } from "node:fs/promises";

import openapiTS, { COMMENT_HEADER, astToString } from "openapi-typescript";
import { describe, expect, it } from "vitest";

const schemaUrl = new URL("../../openapi.json", import.meta.url);
const typesUrl = new URL("./api.ts", import.meta.url);

describe("src/types/api.ts", () => {
  it("matches what openapi-typescript generates from openapi.json", async () => {
    const schema = JSON.parse(await readFile(schemaUrl, "utf8"));
    const generated = COMMENT_HEADER + astToString(await openapiTS(schema, { silent: true }));
    const committed = await readFile(typesUrl, "utf8");
    expect(committed, "src/types/api.ts is stale: run `npm run gen:types` and commit it").toBe(generated);
  }, 30_000);
});
