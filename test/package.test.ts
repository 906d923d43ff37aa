/**
 * The package as published: its fields, what `npm pack` puts in the tarball (everything an
 * installed copy needs to load and to build its addon, nothing of the repository's own tooling),
 * and that binding.gyp builds what CMakeLists.txt builds (every native/*.cc, the same defines).
 * scripts/check-gyp-build.sh (run by .ci/run) proves the node-gyp build itself.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

interface Pkg {
  name: string;
  type: string;
  engines: { node: string };
  main: string;
  types: string;
  exports: Record<string, { types?: string; import?: string } | string>;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync("package.json", "utf8")) as Pkg;

describe("package.json", () => {
  it("is blasnet: ESM, Node >= 20, typed exports, cmake-js and node-addon-api as dependencies", () => {
    expect(pkg.name).toBe("blasnet");
    expect(pkg.type).toBe("module");
    expect(pkg.engines.node).toBe(">=20");
    expect(pkg.types).toBe("./dist/lib/index.d.ts");
    expect(pkg.exports["."]).toEqual({ types: "./dist/lib/index.d.ts", import: "./dist/lib/index.js", require: "./lib/require.cjs" });
    expect(pkg.files).toContain("lib");
    // The install script builds the addon in the user's node_modules: what it runs must be installed.
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(["cmake-js", "node-addon-api"]));
  });
});

describe("require(\"blasnet\") from CommonJS", () => {
  // The package refers to itself by name (its exports), as an installed copy is required.
  const run = (flags: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [...flags, "-e", 'const b = require("blasnet"); console.log(typeof b.Sequential, typeof b.readCsv)'], { encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  it.skipIf(!existsSync("dist/lib/index.js") && !process.env["CI"])("returns the library (Node >= 20.19 requires ES modules)", () => {
    const r = run([]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("function function");
  });
  it.skipIf(!existsSync("dist/lib/index.js") && !process.env["CI"])("where require() of ES modules is off (older Node.js), says how to import it", () => {
    const r = run(["--no-experimental-require-module"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/blasnet is an ES module, and this Node\.js \(v[\d.]+\) cannot require\(\) it .*import \{ Sequential \} from "blasnet".*await import\("blasnet"\)/);
  });
});

describe("package-lock.json and set-up", () => {
  interface LockEntry {
    dev?: boolean;
    devOptional?: boolean;
    optional?: boolean;
    optionalDependencies?: Record<string, string>;
  }
  const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, LockEntry> };

  it("lists every optional dependency of every locked package, so npm ci installs from it on any platform", () => {
    // npm resolves a dependency of node_modules/a/node_modules/b in b's own node_modules, then up the tree.
    const resolves = (from: string, name: string): boolean => {
      for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf("/node_modules/")))) {
        if (lock.packages[`${dir ? `${dir}/` : ""}node_modules/${name}`]) return true;
        if (dir === "") return false;
      }
    };
    const missing = Object.entries(lock.packages).flatMap(([path, e]) => Object.keys(e.optionalDependencies ?? {}).filter((d) => !resolves(path, d)).map((d) => `${path} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it("a consumer's install stays lean: at most 69 packages (half of the 138 it once was)", () => {
    const runtime = Object.entries(lock.packages).filter(([path, e]) => path.startsWith("node_modules/") && !e.dev && !e.devOptional);
    expect(runtime.length).toBeLessThanOrEqual(69);
    for (const heavy of ["vega", "vega-lite", "onnx-proto"]) expect(Object.keys(pkg.dependencies)).not.toContain(heavy);
  });

  it("set-up installs from the lock file with npm ci, and onnxruntime-node's install option is an environment variable, not an .npmrc key npm warns about", () => {
    const setup = readFileSync("scripts/setup.sh", "utf8");
    expect(setup).toMatch(/^ONNXRUNTIME_NODE_INSTALL=skip BLASNET_REQUIRE_NATIVE=1 npm ci /m);
    const npmrc = existsSync(".npmrc") ? readFileSync(".npmrc", "utf8") : "";
    expect(npmrc).not.toMatch(/onnxruntime-node-install/);
  });
});

describe("npm pack", () => {
  const packed = (
    JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as {
      files: { path: string }[];
    }[]
  )[0]!.files.map((f) => f.path);

  it("ships the sources the addon is built from, the install script, and the compiled library", () => {
    const nativeSources = readdirSync("native").filter((f) => /\.(cc|h)$/.test(f));
    expect(nativeSources.length).toBeGreaterThan(0);
    for (const f of nativeSources) expect(packed, f).toContain(`native/${f}`);
    for (const f of ["CMakeLists.txt", "binding.gyp", "package.json", "README.md", "scripts/install-native.mjs"]) expect(packed, f).toContain(f);
    expect(pkg.files).toContain("dist/lib");
    // dist/ is compiled by the prepare script (npm pack and npm install run it; --ignore-scripts here
    // packs what is on disk). In CI set-up has built it; locally it may not exist yet.
    if (existsSync("dist/lib/index.js") || process.env["CI"]) {
      for (const f of ["dist/lib/index.js", "dist/lib/index.d.ts", "dist/lib/backend/native/loader.js", "dist/lib/cli/main.js"]) expect(packed, f).toContain(f);
    }
  });

  it("ships nothing of the repository's tooling, tests, builds or data", () => {
    const unwanted = packed.filter((p) => /^(test|bench|examples|build|tmp|docs|node_modules|\.ci)\//.test(p) || p.startsWith("dist/test") || p.endsWith(".node"));
    expect(unwanted).toEqual([]);
  });
});

describe("binding.gyp and CMakeLists.txt build the same addon", () => {
  const gyp = readFileSync("binding.gyp", "utf8");
  const cmake = readFileSync("CMakeLists.txt", "utf8");

  it("binding.gyp lists every native/*.cc (CMakeLists.txt globs them)", () => {
    const sources = [...gyp.matchAll(/"(native\/[^"]+\.cc)"/g)].map((m) => m[1]).sort();
    const onDisk = readdirSync("native").filter((f) => f.endsWith(".cc")).map((f) => `native/${f}`).sort();
    expect(sources).toEqual(onDisk);
    expect(cmake).toMatch(/file\(GLOB BLASNET_SOURCES CONFIGURE_DEPENDS "\$\{CMAKE_CURRENT_SOURCE_DIR\}\/native\/\*\.cc"\)/);
  });

  it("the same preprocessor defines and optimization flags", () => {
    for (const d of ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]) {
      expect(gyp, d).toContain(`"${d}"`);
      expect(cmake, d).toContain(d);
    }
    for (const flag of ["-O3", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math"]) {
      expect(gyp, flag).toContain(`"${flag}"`);
      expect(cmake, flag).toContain(flag);
    }
    // Neither may target the build machine's CPU: the addon must run on any x86-64.
    expect(gyp).not.toMatch(/-march=native|-mavx/);
    expect(cmake).not.toMatch(/-march=native|-mavx/);
  });
});
