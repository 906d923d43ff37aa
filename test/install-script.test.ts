/**
 * npm's install script (scripts/install-native.mjs) when the addon cannot be built: run in a scratch
 * copy of the package with no compiler or cmake on PATH, it explains what to do and lets the install
 * succeed (the library then falls back to TypeScript), unless the build was asked for explicitly:
 * BLASNET_REQUIRE_NATIVE=1 (set-up, CI) or `npm rebuild blasnet`.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadFrom } from "../lib/backend/native/loader.js";

const root = path.resolve(".");

function scratchPackage(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "blasnet-install-"));
  mkdirSync(path.join(dir, "scripts"));
  mkdirSync(path.join(dir, "empty-path"));
  for (const f of ["package.json", "CMakeLists.txt", "scripts/install-native.mjs"]) cpSync(path.join(root, f), path.join(dir, f));
  cpSync(path.join(root, "native"), path.join(dir, "native"), { recursive: true });
  symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function install(dir: string, env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ["scripts/install-native.mjs"], {
    cwd: dir,
    // Nothing on PATH: no cmake, no compiler.
    env: { HOME: os.homedir(), PATH: path.join(dir, "empty-path"), ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe("install script", () => {
  it("is the package's install script and is published", () => {
    const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string>; files: string[] };
    expect(pkg.scripts["install"]).toBe("node scripts/install-native.mjs");
    expect(pkg.files).toContain("scripts/install-native.mjs");
  });

  it("a failed build explains the fix and does not fail the install; BLASNET_REQUIRE_NATIVE=1 or npm rebuild makes it fail", () => {
    const dir = scratchPackage();
    const soft = install(dir, {});
    expect(soft.status, soft.stderr).toBe(0);
    expect(soft.stderr).toContain("blasnet: the native addon was not built");
    expect(soft.stderr).toContain("TypeScript backend");
    expect(soft.stderr).toContain("sudo apt-get install -y libopenblas-dev cmake g++");
    expect(soft.stderr).toContain("npm rebuild blasnet --ignore-scripts=false --foreground-scripts");
    expect(existsSync(path.join(dir, "build", "Release", "blasnet.node"))).toBe(false);

    const hard = install(dir, { BLASNET_REQUIRE_NATIVE: "1" });
    expect(hard.status, hard.stderr).toBe(1);
    expect(hard.stderr).toContain("blasnet: the native addon was not built");
    // `npm rebuild blasnet` (npm sets npm_command) is an explicit request to build: a failure fails it.
    const rebuild = install(dir, { npm_command: "rebuild" });
    expect(rebuild.status, rebuild.stderr).toBe(1);
    const install2 = install(dir, { npm_command: "install" });
    expect(install2.status, install2.stderr).toBe(0);
  });

  it("keeps the reason of a failed build in build/install-failure.log, which the run-time error quotes", () => {
    const dir = scratchPackage();
    expect(install(dir, {}).status).toBe(0);
    const log = readFileSync(path.join(dir, "build", "install-failure.log"), "utf8");
    expect(log).toMatch(/^cause: cmake-js exited with code \d+$/m);
    // With nothing on PATH, cmake-js names what is missing (the compiler or cmake).
    expect(log).toMatch(/not available|not found/i);
    const err = (() => {
      try {
        loadFrom([path.join(dir, "build", "Release", "blasnet.node")]);
      } catch (e) {
        return e as Error;
      }
      throw new Error("loadFrom did not throw");
    })();
    expect(err.message).toMatch(/the native addon was not built: the build at install time failed \(build\/install-failure\.log\):\n  cmake-js exited with code \d+\n  .*(not available|not found)/i);
    // Without the log (a checkout never built): the plain "has not been built".
    expect(() => loadFrom([path.join(root, "no-such-dir", "build", "Release", "blasnet.node")])).toThrow(/has not been built/);
  });
});
