/**
 * ONNX export. The protobuf messages are built and encoded with `onnx-proto` (the ONNX schema
 * compiled by protobufjs); nothing here writes wire bytes by hand.
 *
 * The graph computes exactly what `model.predict` computes from raw inputs:
 *
 *   input (batch, inFeatures)                      raw features, batch dimension dynamic
 *   Sub(mean), Div(std)                            the stored input standardization, if any
 *   Gemm(W, b, transB=1)                           each dense layer; W is (out, in) as stored
 *   Sigmoid | Relu | Tanh | LeakyRelu | Gelu | Softmax(axis=-1)   each activation; dropout is the identity
 *   Softmax / Sigmoid                              the probabilities predict returns for a
 *                                                  crossEntropy / binaryCrossEntropy model
 *   Mul(targetStd), Add(targetMean)                de-standardization of regression outputs, if any
 *   output (batch, outFeatures)
 *
 * GELU is the tanh approximation (as in the kernels). From opset 20 it is ONNX's own
 * `Gelu(approximate="tanh")`; for lower opsets (the default, 17, which older runtimes load) it is
 * spelled out as 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with elementary ops.
 */
import onnxProto from "onnx-proto";
import type { onnx as OnnxTypes } from "onnx-proto";
import type { ElementwiseActivation } from "../backend/backend.js";
import { Sequential } from "../nn/sequential.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { atomicWriteFile } from "./atomic-write.js";
import { blasnetVersion } from "./version.js";

const { onnx } = onnxProto;

/** One step of the exported network. */
export type OnnxLayer =
  | { kind: "dense"; inFeatures: number; outFeatures: number; weight: Float32Array; bias: Float32Array | null }
  | { kind: "activation"; activation: ElementwiseActivation; alpha: number }
  | { kind: "softmax" };

/** Everything the exporter needs, independent of the model classes. */
export interface OnnxGraphSpec {
  inFeatures: number;
  outFeatures: number;
  layers: OnnxLayer[];
  /** Input standardization (x - mean) / std, each (inFeatures). */
  inputMean?: Float32Array | null;
  inputStd?: Float32Array | null;
  /** Applied after the layers: softmax (crossEntropy), sigmoid (binaryCrossEntropy) or nothing. */
  output: "identity" | "softmax" | "sigmoid";
  /** Output de-standardization y * std + mean, each (outFeatures). */
  targetMean?: Float32Array | null;
  targetStd?: Float32Array | null;
  /** Stored as model metadata (metadata_props). */
  metadata?: Record<string, string>;
}

export interface OnnxExportOptions {
  /** ONNX opset (default 17; 13 to 22 supported). Opset >= 20 uses the native Gelu op. */
  opset?: number;
  /** Graph input name (default "input"). */
  inputName?: string;
  /** Graph output name (default "output"). */
  outputName?: string;
  /** Producer version written in the model (default: blasnet's version). */
  producerVersion?: string;
}

const ONNX_OPTIONS = ["opset", "inputName", "outputName", "producerVersion"];

/** The IR version that goes with an opset (ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function floatTensor(name: string, dims: number[], values: Float32Array | readonly number[]): OnnxTypes.ITensorProto {
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  let raw: Uint8Array;
  if (LE) {
    raw = new Uint8Array(f32.byteLength);
    raw.set(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
  } else {
    raw = new Uint8Array(f32.length * 4);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < f32.length; i++) dv.setFloat32(4 * i, f32[i]!, true);
  }
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function valueInfo(name: string, cols: number): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: "batch" }, { dimValue: cols }] },
      },
    },
  };
}

function attrInt(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}
function attrFloat(name: string, f: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}
function attrString(name: string, s: string): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) };
}

function checkVector(what: string, v: Float32Array | null | undefined, n: number): void {
  if (v == null) return;
  if (!(v instanceof Float32Array) || v.length !== n) {
    throw new RangeError(`ONNX export: ${what} must be a Float32Array of length ${n}, received length ${(v as { length?: number }).length}`);
  }
}

/** Build the ONNX ModelProto for `spec` and encode it. */
export function buildOnnxModel(spec: OnnxGraphSpec, options: OnnxExportOptions = {}): Uint8Array {
  checkOptions(options, ONNX_OPTIONS, "ONNX export");
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 13 || opset > 22) {
    throw new RangeError(`Invalid ONNX opset: ${opset}; expected an integer in [13, 22]`);
  }
  const inputName = options.inputName ?? "input";
  const outputName = options.outputName ?? "output";
  checkVector("inputMean", spec.inputMean, spec.inFeatures);
  checkVector("inputStd", spec.inputStd, spec.inFeatures);
  checkVector("targetMean", spec.targetMean, spec.outFeatures);
  checkVector("targetStd", spec.targetStd, spec.outFeatures);

  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  let current = inputName;
  let counter = 0;
  /** Add a node producing a fresh value; returns its name. */
  const node = (opType: string, inputs: string[], attribute: OnnxTypes.IAttributeProto[] = [], label = opType): string => {
    const out = `${label.toLowerCase()}_${counter++}`;
    nodes.push({ opType, input: inputs, output: [out], name: out, attribute });
    return out;
  };
  const scalar = (name: string, v: number): string => {
    const existing = inits.find((t) => t.name === name);
    if (!existing) inits.push(floatTensor(name, [], [v]));
    return name;
  };

  /** Apply `opType` to the current value and the vector initializer `name` (when `values` is given). */
  const withVector = (opType: string, name: string, values: Float32Array | null | undefined, label: string): void => {
    if (!values) return;
    inits.push(floatTensor(name, [values.length], values));
    current = node(opType, [current, name], [], label);
  };

  withVector("Sub", "input_mean", spec.inputMean, "standardize_sub");
  withVector("Div", "input_std", spec.inputStd, "standardize_div");

  let width = spec.inFeatures;
  spec.layers.forEach((layer, i) => {
    switch (layer.kind) {
      case "dense": {
        if (layer.inFeatures !== width) {
          throw new RangeError(`ONNX export: layer ${i} (dense) takes ${layer.inFeatures} inputs but receives ${width}`);
        }
        if (layer.weight.length !== layer.inFeatures * layer.outFeatures) {
          throw new RangeError(`ONNX export: layer ${i} weight has ${layer.weight.length} values, expected ${layer.inFeatures * layer.outFeatures}`);
        }
        const w = `layers.${i}.weight`;
        inits.push(floatTensor(w, [layer.outFeatures, layer.inFeatures], layer.weight));
        const inputs = [current, w];
        if (layer.bias) {
          checkVector(`layer ${i} bias`, layer.bias, layer.outFeatures);
          inits.push(floatTensor(`layers.${i}.bias`, [layer.outFeatures], layer.bias));
          inputs.push(`layers.${i}.bias`);
        }
        current = node("Gemm", inputs, [attrInt("transB", 1)], `dense${i}`);
        width = layer.outFeatures;
        break;
      }
      case "softmax":
        current = node("Softmax", [current], [attrInt("axis", -1)]);
        break;
      case "activation":
        current = activation(layer.activation, layer.alpha, current);
        break;
    }
  });
  if (width !== spec.outFeatures) {
    throw new RangeError(`ONNX export: the layers produce ${width} outputs but outFeatures is ${spec.outFeatures}`);
  }

  function activation(act: ElementwiseActivation, alpha: number, x: string): string {
    switch (act) {
      case "linear":
        return x;
      case "sigmoid":
        return node("Sigmoid", [x]);
      case "relu":
        return node("Relu", [x]);
      case "tanh":
        return node("Tanh", [x]);
      case "leakyRelu":
        return node("LeakyRelu", [x], [attrFloat("alpha", alpha)]);
      case "gelu": {
        if (opset >= 20) return node("Gelu", [x], [attrString("approximate", "tanh")]);
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        const x2 = node("Mul", [x, x], [], "gelu_x2");
        const x3 = node("Mul", [x2, x], [], "gelu_x3");
        const cx3 = node("Mul", [x3, scalar("gelu_c", 0.044715)], [], "gelu_cx3");
        const inner = node("Add", [x, cx3], [], "gelu_inner");
        const scaled = node("Mul", [inner, scalar("gelu_k", Math.sqrt(2 / Math.PI))], [], "gelu_scaled");
        const t = node("Tanh", [scaled], [], "gelu_tanh");
        const onePlus = node("Add", [t, scalar("one", 1)], [], "gelu_1p");
        const half = node("Mul", [x, scalar("half", 0.5)], [], "gelu_halfx");
        return node("Mul", [half, onePlus], [], "gelu");
      }
    }
  }

  if (spec.output === "softmax") current = node("Softmax", [current], [attrInt("axis", -1)], "probabilities");
  else if (spec.output === "sigmoid") current = node("Sigmoid", [current], [], "probabilities");
  withVector("Mul", "target_std", spec.targetStd, "destandardize_mul");
  withVector("Add", "target_mean", spec.targetMean, "destandardize_add");
  if (current === inputName) current = node("Identity", [current]);
  // The last node writes the graph output.
  nodes[nodes.length - 1]!.output = [outputName];

  const model: OnnxTypes.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: "", version: opset }],
    producerName: "blasnet",
    producerVersion: options.producerVersion ?? "",
    graph: {
      name: "blasnet",
      node: nodes,
      initializer: inits,
      input: [valueInfo(inputName, spec.inFeatures)],
      output: [valueInfo(outputName, spec.outFeatures)],
    },
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`ONNX export produced an invalid ModelProto: ${err}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Decode ONNX bytes back into a ModelProto (for inspection and tests). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Write `spec` as an ONNX file, atomically. */
export async function writeOnnx(spec: OnnxGraphSpec, path: string, options: OnnxExportOptions = {}): Promise<void> {
  await atomicWriteFile(path, buildOnnxModel(spec, options));
}

/**
 * What `model.predict` computes, as an export spec: the layers of its inference plan (a trailing
 * softmax or sigmoid that a cross-entropy loss fuses is moved to `output`; dropout is dropped), its
 * stored standardization, and the output transform predict applies.
 */
export function onnxSpecOf(model: Sequential, metadata: Record<string, string> = {}): OnnxGraphSpec {
  if (!(model instanceof Sequential)) throw new TypeError(`exportOnnx expects a Sequential model but received ${describe(model)}`);
  const spec = model.buildSpec(1);
  const layers: OnnxLayer[] = [];
  for (const l of spec.layers) {
    if (l.kind === "dense") {
      layers.push({
        kind: "dense",
        inFeatures: l.inFeatures,
        outFeatures: l.outFeatures,
        weight: model.params.subarray(l.weightOffset, l.weightOffset + l.inFeatures * l.outFeatures),
        bias: l.biasOffset < 0 ? null : model.params.subarray(l.biasOffset, l.biasOffset + l.outFeatures),
      });
    } else if (l.kind === "activation") layers.push({ kind: "activation", activation: l.activation, alpha: l.alpha });
    else if (l.kind === "softmax") layers.push({ kind: "softmax" });
    // dropout: the identity at inference.
  }
  const loss = model.loss?.name;
  const norm = model.normalization;
  const output = loss === "crossEntropy" ? "softmax" : loss === "binaryCrossEntropy" ? "sigmoid" : "identity";
  const regression = output === "identity";
  return {
    inFeatures: model.inputSize,
    outFeatures: model.outputSize,
    layers,
    inputMean: norm?.inputMean ?? null,
    inputStd: norm?.inputStd ?? null,
    output,
    targetMean: regression ? (norm?.targetMean ?? null) : null,
    targetStd: regression ? (norm?.targetStd ?? null) : null,
    metadata: { ...(loss ? { loss } : {}), ...metadata },
  };
}

/**
 * Export `model` as an ONNX file at `path` (written atomically). The graph maps raw inputs to what
 * `model.predict` returns (see the file comment); its input is "input" (batch, inputSize) and its
 * output "output" (batch, outputSize), float32, with a dynamic batch dimension. `metadata` (e.g.
 * class names) is stored in the model's metadata_props.
 */
export async function exportOnnx(
  model: Sequential,
  path: string,
  options: OnnxExportOptions & { metadata?: Record<string, string> } = {},
): Promise<void> {
  if (typeof path !== "string" || path === "") throw new TypeError(`exportOnnx expects a file path but received ${describe(path)}`);
  checkOptions(options, [...ONNX_OPTIONS, "metadata"], "exportOnnx");
  const { metadata, ...graphOptions } = options;
  const spec = onnxSpecOf(model, metadata);
  await writeOnnx(spec, path, { producerVersion: blasnetVersion(), ...graphOptions });
}
