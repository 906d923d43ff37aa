/**
 * Keras and tfjs habits, answered: log names in snake_case ("val_loss") map to blasnet's camelCase
 * ("valLoss"), and a fit history also reads as Keras' `history.history` dictionary.
 */

/** "val_loss" -> "valLoss", "val_accuracy" -> "valAccuracy"; camelCase names are returned as they are. */
export function camelLogName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** What fit's history keeps: per-epoch losses and metrics. */
interface HistoryLike {
  loss: number[];
  valLoss?: number[];
  metrics: Record<string, number[]>;
  valMetrics?: Record<string, number[]>;
}

/**
 * Keras' `History.history`: { loss, <metric>, val_loss, val_<metric> } with one value per epoch, over
 * the same arrays as `history` (so it follows later epochs).
 */
export function kerasHistory(h: HistoryLike): Record<string, number[]> {
  const out: Record<string, number[]> = { loss: h.loss, ...h.metrics };
  if (h.valLoss) out["val_loss"] = h.valLoss;
  for (const [m, v] of Object.entries(h.valMetrics ?? {})) out[`val_${m}`] = v;
  return out;
}

/** Give `h` a non-enumerable `history` property (Keras' dictionary), so it is not written to history.json. */
export function withKerasHistory<T extends HistoryLike>(h: T): T & { readonly history: Record<string, number[]> } {
  return Object.defineProperty(h, "history", { get: () => kerasHistory(h), enumerable: false, configurable: true }) as T & { readonly history: Record<string, number[]> };
}
