/**
 * PyTorch export: `exportTorch(model, dir)` writes, into one directory (each file atomically):
 *
 *   model.py           an nn.Module equal to the model (torch-model-py.ts), build() and load()
 *   model.safetensors  its state_dict: the standardization buffers input_mean, input_std,
 *                      target_mean, target_std (those the model has), then each layer's
 *                      parameters as layers.{i}.{name} (dense weight (out, in), conv2d weight
 *                      (out, in, kh, kw), bias, batch norm's running_mean and running_var, a
 *                      residual block's layers.{i}.body.{j}.*)
 *   train_ddp.py       DistributedDataParallel training under torchrun (torch-train-py.ts)
 *   blasnet.json       the blasnet model's config and column names: what import-torch rebuilds from
 *   README.md          how to run it on one machine and on several
 */
import { join } from "node:path";
import { describe } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import type { Sequential } from "../nn/sequential.js";
import { atomicWriteFile, makeDirectory } from "./atomic-write.js";
import type { DataInfo } from "./model-file.js";
import { encodeSafetensors, type Tensor } from "./safetensors.js";
import { modelPy } from "./torch-model-py.js";
import { NORMALIZATION_BUFFERS, torchSpecOf, type TorchExportSpec } from "./torch-spec.js";
import { trainDdpPy } from "./torch-train-py.js";
import { blasnetVersion } from "./version.js";

/** The file in an export (and in train_ddp.py's output) that names the architecture. */
export const TORCH_MANIFEST_FILE = "blasnet.json";
export const TORCH_MANIFEST_FORMAT = "blasnet-torch";
export const TORCH_MANIFEST_VERSION = 1;
export const TORCH_WEIGHTS_FILE = "model.safetensors";

/** Options of exportTorch. */
export interface TorchExportOptions {
  /** Column names of the training data (train_ddp.py reads these CSV columns). */
  data?: DataInfo;
}

/**
 * The state_dict of the exported module, in PyTorch's order (views, not copies): Net's own buffers
 * (the standardization it has), then its `layers` submodule's parameters.
 */
export function torchStateDict(model: Sequential): [string, Tensor][] {
  const tensors: [string, Tensor][] = [];
  const norm = model.normalization;
  if (norm) {
    for (const [key, field] of NORMALIZATION_BUFFERS) {
      const v = norm[field];
      if (v) tensors.push([key, { shape: [v.length], data: v }]);
    }
  }
  // Every layer's parameters under PyTorch's names and layouts (dense weight (out, in), conv2d
  // weight (out, in, kh, kw), batch norm's running_mean and running_var, a residual block's
  // body.{j}.*), in module order. Batch norm's num_batches_tracked is left out (load_state_dict
  // fills it in for a plain dict).
  model.layers.forEach((l, i) => {
    for (const p of l.params) tensors.push([`layers.${i}.${p.name}`, { shape: p.shape, data: p.value }]);
  });
  return tensors;
}

function readme(spec: TorchExportSpec): string {
  const cols = spec.data.featureNames ? "the same CSV columns the model was trained on" : `the first ${spec.inFeatures} CSV columns as features and the ones after them as targets`;
  return `# A blasnet model as PyTorch

Written by \`blasnet export-torch\` (blasnet ${spec.version}). Needs Python 3 with PyTorch and numpy
(Debian/Ubuntu: \`apt-get install python3-torch\`); the \`safetensors\` package is used when installed.

| file | what |
|---|---|
| model.py | \`Net\`, an \`nn.Module\` equal to the model; \`build()\` (fresh weights) and \`load(path=None)\` (these weights, eval mode) |
| model.safetensors | its \`state_dict\` (float32) |
| train_ddp.py | training with DistributedDataParallel over Gloo (CPU), same loss (${spec.loss.name}) and optimizer (${spec.optimizer.name}) |
| blasnet.json | the blasnet architecture, read back by \`blasnet import-torch\` |

Predict (raw features in, what blasnet's \`model.predict\` returns out):

    python3 -c "import torch, model; print(model.load()(torch.rand(4, ${spec.inFeatures})))"

Train on one machine with 2 processes (each reads every 2nd row of train.csv; ${cols}):

    torchrun --nproc_per_node 2 train_ddp.py --data train.csv --epochs 10 --out trained/

On several machines: run on each one, with its own \`--node_rank\` (0 on the machine at MASTER_ADDR):

    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 4 --master_addr 10.0.0.1 --master_port 29500 \\
        train_ddp.py --data train.csv --epochs 10 --out trained/

With \`{rank}\` in \`--data\` (e.g. \`shards/part-{rank}.csv\`) each process reads its own file. Options:
\`--batch B\` (rows per process per step, default 32), \`--lr LR\` (a constant rate instead of the
model's), \`--seed\`, \`--no-shuffle\`, \`--fresh\` (start from new weights). It prints the loss before
training, each epoch's training loss and the final loss over all rows, and writes
\`trained/model.safetensors\` and \`trained/blasnet.json\`. Bring the result back to blasnet:

    blasnet import-torch trained/ model-dir/
    blasnet evaluate model-dir/ train.csv

Debian 12's python3-torch (1.13 on Python 3.11) has a torchrun bug that stops it with
\`AttributeError: 'NoneType' object has no attribute 'get'\`; add \`--redirects 9:0 --tee 9:0\` to the
torchrun command (harmless elsewhere). Gloo picks the network interface from the host name; set
\`GLOO_SOCKET_IFNAME\` (e.g. \`lo\` on one machine, \`eth0\` across machines) if it picks the wrong one.
`;
}

/**
 * Export `model` (compiled: its loss and optimizer go into train_ddp.py) as a PyTorch module with
 * its weights, a DistributedDataParallel training script and a README, into directory `dir`
 * (created if needed; the files are replaced together). `options.data` names the CSV columns.
 */
export async function exportTorch(model: Sequential, dir: string, options: TorchExportOptions = {}): Promise<void> {
  if (typeof dir !== "string" || dir === "") throw new TypeError(`exportTorch expects a directory path but received ${describe(dir)}`);
  checkOptions(options, ["data"], "exportTorch");
  const data = options.data ?? {};
  const spec = torchSpecOf(model, data, blasnetVersion());
  const weights = encodeSafetensors(torchStateDict(model), { format: "pt", producer: "blasnet" });
  const manifest = {
    format: TORCH_MANIFEST_FORMAT,
    formatVersion: TORCH_MANIFEST_VERSION,
    blasnetVersion: spec.version,
    model: spec.config,
    data,
  };
  // Each file is replaced atomically; blasnet.json last, as import-torch reads it first.
  const files: [string, Uint8Array | string][] = [
    [TORCH_WEIGHTS_FILE, weights],
    ["model.py", modelPy(spec)],
    ["train_ddp.py", trainDdpPy(spec)],
    ["README.md", readme(spec)],
    [TORCH_MANIFEST_FILE, JSON.stringify(manifest, null, 2) + "\n"],
  ];
  await makeDirectory(dir);
  for (const [name, data] of files) await atomicWriteFile(join(dir, name), data);
}
