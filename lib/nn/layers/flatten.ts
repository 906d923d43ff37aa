/**
 * Flatten: a sample of shape (c, h, w, ...) becomes (c·h·w·...), as PyTorch's nn.Flatten(). Samples
 * are stored row-major already, so it has no step in the training plan: only the shape changes.
 */
import type { PlanLayer } from "../../backend/plan.js";
import type { OnnxGraph } from "../../ops/graph.js";
import { Layer, sizeOf, type Shape } from "./layer.js";
import type { TorchLayer } from "./torch.js";

/** A flatten layer as JSON (config(), model.json). */
export interface FlattenConfig {
  /** The registry type: always "flatten". */
  type: "flatten";
}

/**
 * Flattens each sample to one dimension, (C, H, W) to (C·H·W), between image layers and dense ones. Made
 * by flatten().
 */
export class Flatten extends Layer {
  readonly type = "flatten";

  protected override outputShape(inShape: Shape): Shape {
    return [sizeOf(inShape)];
  }

  planLayers(): PlanLayer[] {
    return [];
  }

  config(): FlattenConfig {
    return { type: "flatten" };
  }

  /** Rebuild a flatten layer from its config (it has no options). */
  static fromConfig(): Flatten {
    return new Flatten();
  }

  label(): string {
    return "flatten";
  }

  kind(): string {
    return "flatten";
  }

  onnx(g: OnnxGraph, x: string): string {
    return this.inShape.length === 1 ? x : g.node("Flatten", [x], [{ name: "axis", int: 1 }]);
  }

  /** Its PyTorch module: nn.Flatten (samples are stored row-major (C, H, W), as PyTorch's: a reshape). */
  static torch(): TorchLayer {
    return { module: "nn.Flatten()", comment: "flatten each sample to one dimension", init: [] };
  }

}
