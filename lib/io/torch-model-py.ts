/**
 * model.py of the PyTorch export: an nn.Module equal to the blasnet model, `build()` and
 * `load(path=None)`, and a safetensors reader and writer that fall back to plain numpy when the
 * `safetensors` package is not installed (Debian's PyTorch 1.13 comes without it).
 *
 * The text is meant to be read and edited: one layer per line with its blasnet description, the
 * standardization as named buffers, no generated helper names.
 */
import { pyFloat } from "./torch-layers.js";
import type { TorchExportSpec } from "./torch-spec.js";

/** A Python list literal of float32 values (exact: every float32 prints as a double that rounds back to it). */
export function pyFloats(values: ArrayLike<number>): string {
  const items = Array.from(values, (v) => pyFloat(v));
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    if (line.length + item.length > 92) {
      lines.push(line);
      line = "";
    }
    line += `${item}, `;
  }
  if (line) lines.push(line);
  return lines.length <= 1 ? `[${(lines[0] ?? "").replace(/, $/, "")}]` : `[\n${lines.map((l) => `    ${l.trimEnd()}`).join("\n")}\n]`;
}

/** A Python literal for a list of strings, or None. */
export function pyStrings(values: readonly string[] | undefined): string {
  return values ? `[${values.map((s) => JSON.stringify(s)).join(", ")}]` : "None";
}

/** Net.__init__'s lines freezing the layers blasnet trains as frozen (trainable: false), or none. */
function frozenLines(frozen: readonly string[]): string {
  if (frozen.length === 0) return "";
  return `        # Frozen in blasnet (trainable: false): no gradients, so optimizers leave them as they are.\n${frozen.map((p) => `        self.layers${p}.requires_grad_(False)\n`).join("")}`;
}

export function modelPy(spec: TorchExportSpec): string {
  const standardized = spec.inputMean !== null;
  const destandardized = spec.targetMean !== null;
  const returns =
    spec.output === "softmax"
      ? "class probabilities (softmax of the scores)"
      : spec.output === "sigmoid"
        ? "probabilities (sigmoid of the scores)"
        : destandardized
          ? "the outputs, de-standardized"
          : "the outputs";
  const scores =
    spec.output === "identity"
      ? destandardized
        ? "outputs on the standardized target scale"
        : "the outputs"
      : "logits";
  const layerLines = spec.layers.map((l, i) => `            ${l.module},  # ${i}: ${l.comment}`);
  const image = spec.inputShape.length > 1;
  const modules = spec.layers.map((l) => l.module).join("\n");
  const usesConv = /(^|[^.\w])Conv2d\(/m.test(modules);
  const usesResidual = /(^|[^.\w])Residual\(/m.test(modules);
  const initLines = spec.layers.flatMap((l, i) => (l.init.length ? [`    layer = net.layers[${i}]`, ...l.init.map((s) => `    ${s}`)] : []));
  const forwardBody =
    spec.output === "softmax"
      ? "        return torch.softmax(self.scores(x), dim=-1)"
      : spec.output === "sigmoid"
        ? "        return torch.sigmoid(self.scores(x))"
        : destandardized
          ? "        return self.scores(x) * self.target_std + self.target_mean"
          : "        return self.scores(x)";

  return `"""
A PyTorch copy of a blasnet model, written by \`blasnet export-torch\` (blasnet ${spec.version}).

    import torch
    import model
    net = model.load()                                  # the exported weights, in eval mode
    y = net(torch.tensor(x, dtype=torch.float32))       # raw features (N, ${spec.inFeatures}) -> what model.predict returns

\`build()\` is the same module freshly initialized (blasnet's initializers, not its random numbers).
The state_dict keys are the tensors of model.safetensors: layers.{i}.weight and layers.{i}.bias of
the layer at index i of the blasnet model's layers (dense (out, in), conv2d (out, in, kh, kw)),
batch norm's running_mean and running_var, a residual block's layers.{i}.body.{j}.*${standardized ? ", and the\nstandardization buffers" : ""}. train_ddp.py trains this module on many processes or machines.
"""
import json
import os
import struct

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "model.safetensors")

IN_FEATURES = ${spec.inFeatures}
OUT_FEATURES = ${spec.outFeatures}${image ? `
# A sample's shape: forward() takes (N, ${spec.inputShape.join(", ")}) or flat rows (N, IN_FEATURES).
INPUT_SHAPE = (${spec.inputShape.join(", ")})` : ""}
# The CSV columns the model was trained on (None: not recorded; train_ddp.py then reads the first
# IN_FEATURES columns as features and the columns after them as targets).
FEATURES = ${pyStrings(spec.data.featureNames)}
TARGETS = ${pyStrings(spec.data.targetNames)}
# Classifiers trained on a label column: its labels, in output order (crossEntropy), or the two labels
# whose second one the output's probability is for (binaryCrossEntropy); else None.
CLASSES = ${pyStrings(spec.data.classNames)}
LOSS = ${JSON.stringify(spec.loss.name)}
${
  standardized
    ? `
# Inputs are standardized as (x - INPUT_MEAN) / INPUT_STD before the first layer.
INPUT_MEAN = ${pyFloats(spec.inputMean!)}
INPUT_STD = ${pyFloats(spec.inputStd!)}
`
    : ""
}${
  destandardized
    ? `
# The network predicts standardized targets; forward() maps them back as y * TARGET_STD + TARGET_MEAN.
TARGET_MEAN = ${pyFloats(spec.targetMean!)}
TARGET_STD = ${pyFloats(spec.targetStd!)}
`
    : ""
}

class Dense(nn.Linear):
    """blasnet's dense(units, { activation }): nn.Linear, then the activation. The activation has no
    parameters, so the state_dict keys stay weight and bias."""

    def __init__(self, in_features, out_features, bias=True, activation=None):
        super().__init__(in_features, out_features, bias)
        self.activation = activation

    def forward(self, x):
        return self.activation(super().forward(x))

${
  usesConv
    ? `
class Conv2d(nn.Conv2d):
    """blasnet's conv2d(outChannels, kernelSize, { activation }): nn.Conv2d, then the activation. The
    state_dict keys stay weight (out, in, kh, kw) and bias."""

    def __init__(self, *args, activation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.activation = activation

    def forward(self, x):
        return self.activation(super().forward(x))

`
    : ""
}${
  usesResidual
    ? `
class Residual(nn.Module):
    """blasnet's residual([...layers]): x + body(x). The body's keys are body.{j}.weight, ..."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)

`
    : ""
}
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # Index i is layer i of the blasnet model.
        self.layers = nn.Sequential(
${layerLines.join("\n")}
        )
${frozenLines(spec.frozen)}${
  standardized
    ? `        self.register_buffer("input_mean", torch.tensor(INPUT_MEAN))
        self.register_buffer("input_std", torch.tensor(INPUT_STD))
`
    : ""
}${
  destandardized
    ? `        self.register_buffer("target_mean", torch.tensor(TARGET_MEAN))
        self.register_buffer("target_std", torch.tensor(TARGET_STD))
`
    : ""
}
    def scores(self, x):
        """Raw features (N, ${image ? `${spec.inputShape.join(", ")}) or (N, ` : ""}${spec.inFeatures}) -> what the loss compares with the targets: ${scores}."""
${image ? "        x = x.reshape(x.shape[0], IN_FEATURES)\n" : ""}${standardized ? "        x = (x - self.input_mean) / self.input_std\n" : ""}${image ? "        x = x.reshape(x.shape[0], *INPUT_SHAPE)\n" : ""}        return self.layers(x)

    def forward(self, x):
        """Raw features (N, ${spec.inFeatures}) -> what blasnet's model.predict returns: ${returns}."""
${forwardBody}

    def loss_targets(self, y):
        """Targets as the loss compares them with the scores${destandardized ? " (standardized)" : ""}."""
        return ${destandardized ? "(y - self.target_mean) / self.target_std" : "y"}


def build():
    """The module, freshly initialized as blasnet initializes a new model (biases zero)."""
    net = Net()
    with torch.no_grad():
${initLines.length ? initLines.map((s) => `    ${s}`).join("\n") : "        pass"}
    return net


def load(path=None):
    """The module with the weights of \`path\` (default: the exported model.safetensors), in eval mode."""
    net = Net()
    net.load_state_dict(read_safetensors(path or WEIGHTS))
    return net.eval()


# safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
# shape and byte range, then the data. The \`safetensors\` package reads and writes it when installed;
# otherwise numpy does.
_NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """The tensors of a safetensors file, as a dict of name -> torch.Tensor."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        return load_file(path)
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _NUMPY_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has dtype {entry['dtype']}, which numpy cannot read; install the safetensors package")
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize, offset=start + begin)
        # A copy in native byte order (torch wants writable, native-order arrays).
        tensors[name] = torch.from_numpy(values.astype(np.dtype(dtype).newbyteorder("=")).reshape(entry["shape"]))
    return tensors


def save_safetensors(tensors, path):
    """Write a dict of name -> float32 torch.Tensor as a safetensors file (replacing it atomically)."""
    # Batch norm's num_batches_tracked (int64) is left out: blasnet does not keep it, and
    # load_state_dict fills it in for a plain dict.
    tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items() if not name.endswith("num_batches_tracked")}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, tmp, metadata={"format": "pt"})
    else:
        header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
        for name, t in tensors.items():
            if t.dtype != torch.float32:
                raise ValueError(f"tensor {name!r} is {t.dtype}; blasnet reads float32 tensors only")
            blob = t.numpy().astype("<f4").tobytes()
            header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
        text = json.dumps(header).encode("utf-8")
        text += b" " * (-len(text) % 8)
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for blob in blobs:
                f.write(blob)
    os.replace(tmp, path)
`;
}
