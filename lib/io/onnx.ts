/**
 * ONNX export. The protobuf messages are built and encoded with `onnx-proto` (the ONNX schema
 * compiled by protobufjs); nothing here writes wire bytes by hand.
 *
 * The graph computes exactly what `model.predict` computes from raw inputs:
 *
 *   input (batch, ...inputShape)                   raw features, batch dimension dynamic
 *   Sub(mean), Div(std)                            the stored input standardization, if any
 *   each layer's own nodes                         what its description (lib/nn/layers/*) writes:
 *                                                  dense Gemm(W, b, transB=1) with W (out, in) as
 *                                                  stored; activations from lib/ops/activations.ts;
 *                                                  Flatten; dropout is the identity; conv2d Conv
 *                                                  (W (out, in, kh, kw), pads top, left, bottom,
 *                                                  right); MaxPool; AveragePool (count_include_pad);
 *                                                  GlobalAveragePool + Flatten; BatchNormalization
 *                                                  (running statistics); LayerNormalization (opset
 *                                                  17+); a residual block's body, then Add
 *   Softmax / Sigmoid                              the probabilities predict returns for a
 *                                                  crossEntropy / binaryCrossEntropy model
 *   Mul(targetStd), Add(targetMean)                de-standardization of regression outputs, if any
 *   output (batch, outFeatures)
 *
 * GELU is the tanh approximation (as in the kernels). From opset 20 it is ONNX's own
 * `Gelu(approximate="tanh")`; for lower opsets (the default, 17, which older runtimes load) it is
 * spelled out as 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with elementary ops.
 */
import protobuf from "protobufjs/light.js";
import type { OnnxAttribute, OnnxGraph } from "../ops/graph.js";
import { Sequential } from "../nn/sequential.js";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { atomicWriteFile } from "./atomic-write.js";
import { blasnetVersion } from "./version.js";
import {
  ATTRIBUTE_FLOAT,
  ATTRIBUTE_INT,
  ATTRIBUTE_INTS,
  ATTRIBUTE_STRING,
  DATA_TYPE_FLOAT,
  ONNX_SCHEMA,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./onnx-schema.js";

const ModelProtoType = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType("onnx.ModelProto");

/** Options of exportOnnx and buildOnnxModel. */
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

function floatTensor(name: string, dims: number[], values: Float32Array | readonly number[]): TensorProto {
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
  return { name, dims, dataType: DATA_TYPE_FLOAT, rawData: raw };
}

function valueInfo(name: string, sample: readonly number[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE_FLOAT,
        shape: { dim: [{ dimParam: "batch" }, ...sample.map((d) => ({ dimValue: d }))] },
      },
    },
  };
}

function attrInt(name: string, i: number): AttributeProto {
  return { name, type: ATTRIBUTE_INT, i };
}
function attrFloat(name: string, f: number): AttributeProto {
  return { name, type: ATTRIBUTE_FLOAT, f };
}
function attrString(name: string, s: string): AttributeProto {
  return { name, type: ATTRIBUTE_STRING, s: new TextEncoder().encode(s) };
}

/** An ONNX attribute as the protobuf message. */
function attribute(a: OnnxAttribute): AttributeProto {
  if ("int" in a) return attrInt(a.name, a.int);
  if ("ints" in a) return { name: a.name, type: ATTRIBUTE_INTS, ints: a.ints };
  if ("float" in a) return attrFloat(a.name, a.float);
  return attrString(a.name, a.string);
}

/**
 * Build the ONNX ModelProto of what `model.predict` computes from raw inputs (see the file
 * comment) and encode it. `metadata` (e.g. class names) goes into the model's metadata_props.
 */
export function buildOnnxModel(model: Sequential, options: OnnxExportOptions & { metadata?: Record<string, string> } = {}): Uint8Array {
  if (!(model instanceof Sequential)) throw new TypeError(`ONNX export expects a Sequential model but received ${describe(model)}`);
  checkOptions(options, [...ONNX_OPTIONS, "metadata"], "ONNX export");
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 13 || opset > 22) {
    throw new RangeError(`Invalid ONNX opset: ${opset}; expected an integer in [13, 22]`);
  }
  const inputName = options.inputName ?? "input";
  const outputName = options.outputName ?? "output";

  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let counter = 0;
  const graph: OnnxGraph = {
    opset,
    node(opType, inputs, attributes = [], label = opType) {
      const out = `${label.toLowerCase()}_${counter++}`;
      nodes.push({ opType, input: inputs, output: [out], name: out, attribute: attributes.map(attribute) });
      return out;
    },
    scalar(name, value) {
      if (!inits.some((t) => t.name === name)) inits.push(floatTensor(name, [], [value]));
      return name;
    },
    tensor(name, dims, values) {
      inits.push(floatTensor(name, dims, values));
      return name;
    },
  };
  let current = inputName;
  /** Apply `opType` to the current value and the initializer `name` of shape `dims` (when `values` is given). */
  const withVector = (opType: string, name: string, values: Float32Array | null | undefined, dims: readonly number[], label: string): void => {
    if (!values) return;
    current = graph.node(opType, [current, graph.tensor(name, [...dims], values)], [], label);
  };

  const loss = model.loss?.name;
  const norm = model.normalization;
  const output = model.outputFunction();
  const regression = loss !== "crossEntropy" && loss !== "binaryCrossEntropy";
  withVector("Sub", "input_mean", norm?.inputMean, model.inputShape, "standardize_sub");
  withVector("Div", "input_std", norm?.inputStd, model.inputShape, "standardize_div");
  for (const layer of model.layers) current = layer.onnx(graph, current);
  if (output === "softmax") current = graph.node("Softmax", [current], [{ name: "axis", int: -1 }], "probabilities");
  else if (output === "sigmoid") current = graph.node("Sigmoid", [current], [], "probabilities");
  if (regression) {
    withVector("Mul", "target_std", norm?.targetStd, model.outputShape, "destandardize_mul");
    withVector("Add", "target_mean", norm?.targetMean, model.outputShape, "destandardize_add");
  }
  if (current === inputName) current = graph.node("Identity", [current]);
  // The last node writes the graph output.
  nodes[nodes.length - 1]!.output = [outputName];
  const metadata = { ...(loss ? { loss } : {}), ...options.metadata };

  const proto: ModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: "", version: opset }],
    producerName: "blasnet",
    producerVersion: options.producerVersion ?? "",
    graph: {
      name: "blasnet",
      node: nodes,
      initializer: inits,
      input: [valueInfo(inputName, model.inputShape)],
      output: [valueInfo(outputName, model.outputShape)],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const err = ModelProtoType.verify(proto);
  if (err) throw new Error(`ONNX export produced an invalid ModelProto: ${err}`);
  return ModelProtoType.encode(ModelProtoType.fromObject(proto)).finish();
}

/** Decode ONNX bytes back into a ModelProto (for inspection and tests). */
export function decodeOnnxModel(bytes: Uint8Array): ModelProto {
  return ModelProtoType.toObject(ModelProtoType.decode(bytes), { longs: Number, arrays: true }) as ModelProto;
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
  await atomicWriteFile(path, buildOnnxModel(model, { producerVersion: blasnetVersion(), ...options }));
}
