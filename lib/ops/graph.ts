/**
 * What an op or layer definition needs to describe itself to an exporter, without depending on one:
 * an ONNX graph under construction (lib/io/onnx.ts implements it) and a PyTorch module source
 * (lib/io/torch-export.ts writes it).
 */

/** An ONNX attribute value: integers, lists of integers, floats and strings are enough for every op blasnet exports. */
export type OnnxAttribute = { name: string } & ({ int: number } | { ints: number[] } | { float: number } | { string: string });

/** An ONNX graph being built: each call appends nodes or initializers and returns a value's name. */
export interface OnnxGraph {
  /** The opset the graph targets (ops that arrived later are spelled out with older ones). */
  readonly opset: number;
  /** Append a node `opType(inputs)` with attributes; returns the name of its (single) output. */
  node(opType: string, inputs: string[], attributes?: OnnxAttribute[], label?: string): string;
  /** A float32 scalar initializer (shared by name); returns its name. */
  scalar(name: string, value: number): string;
  /** A float32 tensor initializer of the given dims; returns its name. */
  tensor(name: string, dims: number[], values: Float32Array): string;
}
