/**
 * `Sequential.summary()`'s table: every layer (a residual block's body indented under it) with its
 * type, output shape (batch, ...) and parameter count, then the total, trainable and non-trainable
 * counts (batch norm's running statistics are non-trainable, as Keras counts them).
 */
import { showShape, type Layer, type Shape } from "./layers.js";

export function summaryText(layers: readonly Layer[], inputShape: Shape, paramCount: number): string {
  const rows: string[][] = [["Layer", "Type", "Output shape", "Params"]];
  const add = (l: Layer, indent: string): void => {
    rows.push([indent + l.name, l.label(), showShape(l.outShape), l.paramCount().toLocaleString("en-US")]);
    for (const c of l.children()) add(c, indent + "  ");
  };
  for (const l of layers) add(l, "");
  const w = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((v, c) => (c === 3 ? v.padStart(w[c]!) : v.padEnd(w[c]!))).join("  ");
  const rule = "-".repeat(w.reduce((a, b) => a + b, 0) + 6);
  const frozen = layers.reduce((n, l) => n + l.nonTrainableCount(), 0);
  const count = (n: number): string => n.toLocaleString("en-US");
  return [
    `Sequential (input: ${inputShape.length === 1 ? `${sizeText(inputShape)} features` : showShape(inputShape)})`,
    rule,
    line(rows[0]!),
    rule,
    ...rows.slice(1).map(line),
    rule,
    `Total params: ${count(paramCount)}`,
    `Trainable params: ${count(paramCount - frozen)}`,
    `Non-trainable params: ${count(frozen)}`,
  ].join("\n");
}

function sizeText(shape: Shape): string {
  return String(shape[0]);
}
