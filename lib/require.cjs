// require("blasnet") from CommonJS. blasnet is an ES module; Node.js >= 20.19 (and >= 22.12) can
// require() it, and then this returns the same exports as `import`. An older Node.js cannot: the
// error says how to load it instead.
"use strict";
try {
  module.exports = require("../dist/lib/index.js");
} catch (e) {
  if (e && (e.code === "ERR_REQUIRE_ESM" || e.code === "ERR_REQUIRE_ASYNC_MODULE")) {
    throw new Error(
      `blasnet is an ES module, and this Node.js (${process.version}) cannot require() it (Node.js >= 20.19 and >= 22.12 can). ` +
        `Use import { Sequential } from "blasnet" in an ES module (.mjs, or "type": "module"), ` +
        `or const blasnet = await import("blasnet") from CommonJS, or a newer Node.js.`,
      { cause: e },
    );
  }
  throw e;
}
