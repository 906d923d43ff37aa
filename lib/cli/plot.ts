/**
 * Loss curves: in the terminal (asciichart) and as an SVG file. The SVG is one line chart, a few
 * dozen plain SVG elements written here (vega + vega-lite, 25 MB of dependencies, drew it before).
 */
import asciichart from "asciichart";

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

/** Text for XML content and attribute values. */
function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** About `count` round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A tick label: short, exponent notation for very small or large values. */
function tickLabel(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

/**
 * The loss curve(s) as an SVG document: a line per series over the epochs, axes with round ticks,
 * a log-scaled loss axis when the finite losses span more than 100x, and a legend. Plain SVG
 * elements (no scripts, no fonts beyond a generic family), so browsers and image viewers show it.
 */
export async function lossCurveSvg(curves: LossCurves, title = "Training loss"): Promise<string> {
  const epochs = curves.epochs ?? curves.loss.map((_, i) => i + 1);
  const series: { name: string; color: string; values: readonly number[] }[] = [{ name: "training", color: "#4c78a8", values: curves.loss }];
  if (curves.valLoss && curves.valLoss.length > 0) series.push({ name: "validation", color: "#f58518", values: curves.valLoss });
  const finite = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const positive = finite.filter((v) => v > 0);
  const log = positive.length > 1 && positive.length === finite.length && Math.max(...positive) / Math.min(...positive) > 100;
  const W = 640;
  const H = 380;
  const left = 70;
  const right = 130;
  const top = 40;
  const bottom = 50;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const x0 = epochs[0] ?? 1;
  const x1 = epochs.at(-1) ?? 1;
  const xAt = (e: number): number => left + (x1 > x0 ? ((e - x0) / (x1 - x0)) * pw : pw / 2);
  let lo = finite.length > 0 ? Math.min(...finite) : 0;
  let hi = finite.length > 0 ? Math.max(...finite) : 1;
  if (log) {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
  }
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const yAt = (v: number): number => top + ph - (((log ? Math.log10(v) : v) - lo) / (hi - lo)) * ph;
  const f = (v: number): string => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${xmlText(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
  ];
  const yTicks = log ? niceTicks(Math.floor(lo), Math.ceil(hi), Math.ceil(hi) - Math.floor(lo)).filter((t) => t >= lo - 1e-9 && t <= hi + 1e-9).map((t) => 10 ** t) : niceTicks(lo, hi, 6);
  for (const t of yTicks) {
    const y = f(yAt(t));
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`, `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 8).filter((t) => Number.isInteger(t))) {
    const x = f(xAt(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${top + ph}" y2="${top + ph + 5}" stroke="#888"/>`, `<text x="${x}" y="${top + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<text x="${left + pw / 2}" y="${H - 12}" text-anchor="middle">epoch</text>`,
    `<text x="18" y="${top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + ph / 2})">loss${log ? " (log scale)" : ""}</text>`,
  );
  series.forEach((s, k) => {
    const points = s.values.flatMap((v, i) => (Number.isFinite(v) && (!log || v > 0) ? [`${f(xAt(epochs[i]!))},${f(yAt(v))}`] : []));
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(" ")}"/>`);
    if (points.length <= 60) for (const p of points) out.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="2.5" fill="${s.color}"/>`);
    const ly = top + 10 + 20 * k;
    out.push(`<line x1="${left + pw + 15}" x2="${left + pw + 35}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`, `<text x="${left + pw + 40}" y="${ly}" dominant-baseline="middle">${s.name}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}
