/**
 * Loss curves: in the terminal (asciichart) and as an SVG file (vega-lite compiled to a vega spec,
 * rendered headless with renderer "none" and `view.toSVG()`, so no canvas package is needed).
 */
import asciichart from "asciichart";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export interface LossCurves {
  /** Training loss per epoch. */
  loss: readonly number[];
  /** Validation loss per epoch, if any. */
  valLoss?: readonly number[] | undefined;
  /** 1-based epoch numbers (default 1..loss.length). */
  epochs?: readonly number[];
}

/** Keep at most `width` points by averaging neighbours (asciichart draws one column per point). */
function downsample(values: readonly number[], width: number): number[] {
  if (values.length <= width) return [...values];
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const a = Math.floor((i * values.length) / width);
    const b = Math.floor(((i + 1) * values.length) / width);
    let s = 0;
    for (let j = a; j < b; j++) s += values[j]!;
    out.push(s / (b - a));
  }
  return out;
}

/** The loss curve(s) as terminal text: training loss, and validation loss when given. */
export function asciiLossChart(curves: LossCurves, options: { width?: number; height?: number; color?: boolean } = {}): string {
  const width = options.width ?? 60;
  const height = options.height ?? 10;
  const series = [downsample(curves.loss, width)];
  if (curves.valLoss && curves.valLoss.length > 0) series.push(downsample(curves.valLoss, width));
  if (series[0]!.length === 0) return "(no epochs)";
  const colors = options.color ? [asciichart.blue, asciichart.green] : undefined;
  const chart = asciichart.plot(series, {
    height,
    ...(colors ? { colors } : {}),
    format: (x: number) => x.toPrecision(4).padStart(10),
  });
  const legend =
    series.length === 1 ? "  training loss" : options.color ? "  blue: training loss, green: validation loss" : "  training loss and validation loss";
  return `${chart}\n${legend} over ${curves.loss.length} epoch(s)`;
}

/** The loss curve(s) as an SVG document (vega-lite line chart, log-scaled loss when it spans > 100x). */
export async function lossCurveSvg(curves: LossCurves, title = "Training loss"): Promise<string> {
  const epochs = curves.epochs ?? curves.loss.map((_, i) => i + 1);
  const rows: { epoch: number; loss: number; series: string }[] = [];
  curves.loss.forEach((v, i) => rows.push({ epoch: epochs[i]!, loss: v, series: "training" }));
  curves.valLoss?.forEach((v, i) => rows.push({ epoch: epochs[i]!, loss: v, series: "validation" }));
  const finite = rows.map((r) => r.loss).filter((v) => Number.isFinite(v) && v > 0);
  const log = finite.length > 1 && Math.max(...finite) / Math.min(...finite) > 100;
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 560,
    height: 320,
    data: { values: rows },
    mark: { type: "line", point: rows.length <= 60 },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
      y: { field: "loss", type: "quantitative", title: "loss", scale: log ? { type: "log" } : { zero: false } },
      color: { field: "series", type: "nominal", title: null },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
