/**
 * The floors of lib/ and the imports between them, read from the source (every import, export-from
 * and dynamic import, type-only ones included, as `npx madge --extensions ts lib` reads them): each
 * folder imports only from its own floor and the floors below, and no file imports itself round a
 * circle. The floors, lowest first, are what the code builds on:
 *
 *   core, ops          matrix, options, rng; the activation, loss and window definitions
 *   optim              the update rules (each backend implements them)
 *   backend            the kernel and plan boundaries and the two backends
 *   losses             the loss objects a model compiles with (their plan descriptions)
 *   train              the training loop, over a small model interface (train/model.ts)
 *   nn                 layers, their registry, the model front (Sequential) that calls train
 *   data, io           readers and batches; model files, ONNX, PyTorch
 *   cli                the command line
 *   index.ts           the public exports
 *
 * A kind defined on a floor above one that must know it is handed down (the layer registry gives the
 * native loader its plan step codes: registerPlanLayerCodes) rather than imported upwards.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const lib = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "lib");

const FLOORS: Record<string, number> = { core: 0, ops: 0, optim: 1, backend: 2, losses: 3, train: 4, nn: 5, data: 6, io: 6, cli: 7, "index.ts": 8 };

/** Every .ts file of lib/, relative to it ("nn/sequential.ts"). */
function sources(dir = lib): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith(".ts") ? [path.relative(lib, full).split(path.sep).join("/")] : [];
  });
}

/** file -> the lib/ files it imports (relative specifiers only; "./x.js" is x.ts). */
function importGraph(): Map<string, string[]> {
  const files = sources();
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(path.join(lib, file), "utf8"), true, true);
    const deps: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName)).replace(/\.js$/, ".ts");
      if (known.has(target)) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

const floorOf = (file: string): string => (file.includes("/") ? file.slice(0, file.indexOf("/")) : file);

/** Imports that go to a higher floor, as "a.ts -> b.ts (floor x imports floor y)". */
function upwardImports(graph: Map<string, string[]>): string[] {
  const up: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) {
      const [from, to] = [floorOf(file), floorOf(dep)];
      if (FLOORS[to]! > FLOORS[from]!) up.push(`${file} -> ${dep} (${from} imports ${to}, a floor above it)`);
    }
  }
  return up;
}

/** The import circles, each as the files round it. */
function circles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 1);
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === 1) found.push([...stack.slice(stack.indexOf(dep)), dep].join(" -> "));
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, 2);
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe("the layering of lib/", () => {
  const graph = importGraph();

  it("reads the import graph (every folder of lib/ has a floor)", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("nn/sequential.ts")).toContain("train/fit.ts");
    for (const file of graph.keys()) expect(FLOORS, `the floor of ${file}`).toHaveProperty([floorOf(file)]);
  });

  it("every import goes to the same floor or one below", () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it("finds an upward import when there is one", () => {
    const withUp = new Map(graph);
    withUp.set("core/matrix.ts", [...graph.get("core/matrix.ts")!, "train/fit.ts"]);
    expect(upwardImports(withUp)).toEqual(["core/matrix.ts -> train/fit.ts (core imports train, a floor above it)"]);
  });

  it("has no import circles", () => {
    expect(circles(graph)).toEqual([]);
  });
});
