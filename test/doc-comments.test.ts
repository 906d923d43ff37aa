/**
 * Every export of the package has a doc comment (issue 11): what editors show on hover and what
 * `npm run docs` (typedoc) prints. The walk is in doc-comments.ts.
 */
import { describe, expect, it } from "vitest";
import { undocumentedExports } from "./doc-comments.js";

describe("doc comments", () => {
  it("every export of lib/index.ts, and every public member of its classes and interfaces, has one", () => {
    const missing = undocumentedExports();
    expect(missing, `add a /** ... */ comment (what it is, units, shapes, defaults) to: ${missing.join(", ")}`).toEqual([]);
  }, 60_000);
});
