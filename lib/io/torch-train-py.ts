/**
 * train_ddp.py of the PyTorch export: trains model.py's module with DistributedDataParallel over
 * Gloo (CPU) under torchrun, one CSV shard per process, with the blasnet model's loss, optimizer,
 * learning-rate schedule and gradient clipping, and saves the result where import-torch reads it.
 *
 * It is a template a person will edit: the settings come first as plain Python, the loop is the
 * textbook DDP loop.
 */
import type { LossConfig } from "../losses/index.js";
import type { OptimizerConfig } from "../optim/index.js";
import type { ScheduleConfig } from "../optim/schedules.js";
import { pyFloat } from "./torch-layers.js";
import type { TorchExportSpec } from "./torch-spec.js";

/** blasnet loss -> the PyTorch loss module computing the same mean. */
function lossPy(loss: LossConfig): string {
  switch (loss.name) {
    case "mse":
      return "nn.MSELoss()";
    case "mae":
      return "nn.L1Loss()";
    case "huber":
      return `nn.HuberLoss(delta=${pyFloat(loss.delta)})`;
    case "crossEntropy":
      return "nn.CrossEntropyLoss()  # softmax cross-entropy from logits, class-index targets";
    case "binaryCrossEntropy":
      return "nn.BCEWithLogitsLoss()  # per output, from logits, 0/1 targets";
  }
}

/** An optimizer option as a Python float literal (a number in every config blasnet writes). */
function opt(o: OptimizerConfig, key: string): string {
  const v = o[key];
  if (typeof v !== "number") throw new TypeError(`PyTorch export: optimizer ${o.name} option ${key} is ${JSON.stringify(v)}; expected a number`);
  return pyFloat(v);
}

/**
 * blasnet optimizer name -> the torch.optim constructor with the same settings (each blasnet
 * optimizer follows PyTorch's semantics and defaults; lib/optim/*.ts cite the PyTorch source).
 */
export const TORCH_OPTIMIZERS: Readonly<Record<string, (o: OptimizerConfig) => string>> = {
  sgd: (o) => `torch.optim.SGD(parameters, lr=lr, momentum=${opt(o, "momentum")}, dampening=${opt(o, "dampening")}, nesterov=${o["nesterov"] === true ? "True" : "False"}, weight_decay=${opt(o, "weightDecay")})`,
  adam: (o) => `torch.optim.Adam(parameters, lr=lr, betas=(${betas(o)}), eps=${opt(o, "eps")}, weight_decay=${opt(o, "weightDecay")})`,
  adamw: (o) => `torch.optim.AdamW(parameters, lr=lr, betas=(${betas(o)}), eps=${opt(o, "eps")}, weight_decay=${opt(o, "weightDecay")})`,
  rmsprop: (o) => `torch.optim.RMSprop(parameters, lr=lr, alpha=${opt(o, "alpha")}, eps=${opt(o, "eps")}, weight_decay=${opt(o, "weightDecay")}, momentum=${opt(o, "momentum")})`,
};

function betas(o: OptimizerConfig): string {
  const b = o["betas"];
  if (!Array.isArray(b) || b.length !== 2 || !b.every((v) => typeof v === "number")) throw new TypeError(`PyTorch export: optimizer ${o.name} betas is ${JSON.stringify(b)}; expected [beta1, beta2]`);
  return `${pyFloat(b[0] as number)}, ${pyFloat(b[1] as number)}`;
}

function optimizerPy(o: OptimizerConfig): string {
  const write = Object.hasOwn(TORCH_OPTIMIZERS, o.name) ? TORCH_OPTIMIZERS[o.name] : undefined;
  if (!write) {
    throw new TypeError(`PyTorch export: optimizer ${JSON.stringify(o.name)} has no torch.optim equivalent here (known: ${Object.keys(TORCH_OPTIMIZERS).join(", ")}); add it to TORCH_OPTIMIZERS in lib/io/torch-train-py.ts`);
  }
  return write(o);
}

/**
 * Python functions `name(step, epoch)` computing a blasnet schedule (step: updates applied so far,
 * epoch: 0-based), as lib/optim/schedules.ts defines them. Returns the definitions, innermost first.
 */
function schedulePy(c: ScheduleConfig | number, name: string): string[] {
  if (typeof c === "number") return [`def ${name}(step, epoch):\n    return ${pyFloat(c)}`];
  switch (c.kind) {
    case "stepDecay":
      return [
        `def ${name}(step, epoch):\n    """stepDecay: initial * gamma ** floor(${c.per} / stepSize)."""\n    return ${pyFloat(c.initial)} * ${pyFloat(c.gamma)} ** (${c.per} // ${c.stepSize})`,
      ];
    case "exponentialDecay":
      return [
        `def ${name}(step, epoch):\n    """exponentialDecay: initial * decayRate ** (step / decaySteps)${c.staircase ? ", floored" : ""}."""\n    return ${pyFloat(c.initial)} * ${pyFloat(c.decayRate)} ** (step ${c.staircase ? "//" : "/"} ${c.decaySteps})`,
      ];
    case "cosineDecay":
      return [
        `def ${name}(step, epoch):\n    """cosineDecay: from initial down to alpha * initial over decaySteps steps, then flat."""\n` +
          `    c = 0.5 * (1 + math.cos(math.pi * min(step, ${c.decaySteps}) / ${c.decaySteps}))\n` +
          `    return ${pyFloat(c.initial)} * ((1 - ${pyFloat(c.alpha)}) * c + ${pyFloat(c.alpha)})`,
      ];
    case "linearWarmup": {
      const inner = `${name}_after_warmup`;
      return [
        ...schedulePy(c.after, inner),
        `def ${name}(step, epoch):\n    """linearWarmup: ramp up to the first rate of ${inner} over ${c.warmupSteps} steps, then follow it."""\n` +
          `    if step < ${c.warmupSteps}:\n` +
          `        return ${inner}(0, epoch) * (${pyFloat(c.startFactor)} + (1 - ${pyFloat(c.startFactor)}) * (step + 1) / ${c.warmupSteps})\n` +
          `    return ${inner}(step - ${c.warmupSteps}, epoch)`,
      ];
    }
  }
}

export function trainDdpPy(spec: TorchExportSpec): string {
  const classifier = spec.loss.name === "crossEntropy";
  const clip: string[] = [];
  // blasnet clips by value, then by the global L2 norm (as clip_grad_norm_).
  if (spec.clipValue > 0) clip.push(`                nn.utils.clip_grad_value_(net.parameters(), ${pyFloat(spec.clipValue)})`);
  if (spec.clipNorm > 0) clip.push(`                nn.utils.clip_grad_norm_(net.parameters(), ${pyFloat(spec.clipNorm)})`);

  return `"""
Train model.py's network on many processes, or many machines, with PyTorch's DistributedDataParallel
over Gloo (CPU), then save it where \`blasnet import-torch\` reads it. Written by \`blasnet export-torch\`
(blasnet ${spec.version}) with the blasnet model's loss and optimizer; edit freely.

One machine, 2 processes:
    torchrun --nproc_per_node 2 train_ddp.py --data train.csv --epochs 10 --out trained/
Several machines (run on each, with its --node_rank):
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 4 --master_addr HOST0 --master_port 29500 \\
        train_ddp.py --data train.csv --epochs 10 --out trained/
Then:  blasnet import-torch trained/ model-dir/

Each process trains on its shard of the data: every K-th row of --data (K processes), or, when the
path contains {rank}, its own file (e.g. --data shards/part-{rank}.csv). --batch rows per process
per step: each update averages the gradients of all K processes. Without torchrun it runs as one
process.
"""
import argparse
import contextlib
import csv
import gc
import math
import os
import shutil

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import model

# The blasnet model's training settings: the learning rate after \`step\` updates in 0-based
# \`epoch\`, the loss, and the optimizer.


${schedulePy(spec.lr, "learning_rate").join("\n\n\n")}


def make_loss():
    return ${lossPy(spec.loss)}


def make_optimizer(parameters, lr):
    return ${optimizerPy(spec.optimizer)}


def read_csv(path, rank, world_size):
    """This process's rows of the CSV file: features (N, IN_FEATURES) float32 and targets."""
    with open(path, newline="") as f:
        header, *lines = csv.reader(f)
    # (line number in the file, cells) of each row that is not blank
    rows = [(line, r) for line, r in enumerate(lines, start=2) if any(cell.strip() for cell in r)]
    if "{rank}" not in path:
        rows = rows[rank::world_size]
    features = model.FEATURES or header[: model.IN_FEATURES]
    targets = model.TARGETS or header[model.IN_FEATURES : model.IN_FEATURES + ${classifier ? 1 : "model.OUT_FEATURES"}]
    missing = [c for c in features + targets if c not in header]
    if missing:
        raise SystemExit(f"{path}: no column {missing[0]!r}; the model needs {features + targets}")

    def column(name, convert):
        j = header.index(name)
        out = []
        for line, r in rows:
            try:
                out.append(convert(r[j].strip()))
            except (ValueError, IndexError):
                raise SystemExit(f"{path}: row {line}: column {name!r} holds {r[j] if j < len(r) else 'nothing'!r}, expected {'one of ' + str(model.CLASSES) if convert is label else 'a number'}")
        return out

    def label(text):
        return (model.CLASSES or []).index(text)

    x = torch.tensor([column(c, float) for c in features], dtype=torch.float32).T.reshape(len(rows), len(features))
${
  classifier
    ? `    y = torch.tensor(column(targets[0], label), dtype=torch.int64)  # class indices`
    : `    if model.CLASSES:  # binaryCrossEntropy on a two-class label column: 1 for the second class
        y = torch.tensor(column(targets[0], label), dtype=torch.float32).reshape(len(rows), 1)
    else:
        y = torch.tensor([column(c, float) for c in targets], dtype=torch.float32).T.reshape(len(rows), len(targets))`
}
    return x, y


class Scores(nn.Module):
    """The network up to the loss (model.Net.scores): what DistributedDataParallel wraps."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.scores(x)


def all_sum(values):
    """Sum a list of numbers over all processes."""
    t = torch.tensor(values, dtype=torch.float64)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def mean_loss(net, loss, x, y):
    """The loss over all processes' rows, in eval mode (as blasnet's evaluate reports it)."""
    net.eval()
    with torch.no_grad():
        total, rows = all_sum([loss(net.scores(x), net.loss_targets(y)).item() * len(x), len(x)])
    net.train()
    return total / rows


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--data", required=True, help="CSV file with the model's columns; {rank} in the path: one file per process")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--out", required=True, help="directory to write model.safetensors and blasnet.json into")
    p.add_argument("--batch", type=int, default=32, help="rows per process per step (default 32)")
    p.add_argument("--lr", type=float, default=None, help="a constant learning rate instead of the model's")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle and of dropout")
    p.add_argument("--no-shuffle", action="store_true", help="take each shard's rows in file order every epoch")
    p.add_argument("--fresh", action="store_true", help="start from build() (new weights), not the exported ones")
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ  # set by torchrun
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    world_size = dist.get_world_size() if distributed else 1
    torch.manual_seed(args.seed + rank)

    net = model.build() if args.fresh else model.load()
    net.train()
    x, y = read_csv(args.data.replace("{rank}", str(rank)), rank, world_size)
    trainer = DistributedDataParallel(Scores(net)) if distributed else Scores(net)
    loss = make_loss()
    optimizer = make_optimizer(net.parameters(), args.lr if args.lr is not None else learning_rate(0, 0))
    shuffle = torch.Generator().manual_seed(args.seed + rank)

    before = mean_loss(net, loss, x, y)
    (all_rows,) = all_sum([len(x)])  # collectives (all_sum) run on every process, never under "if rank == 0"
    if rank == 0:
        print(f"{world_size} process(es), {int(all_rows)} rows; loss before training {before:.9g}", flush=True)
    step = 0
    for epoch in range(args.epochs):
        order = torch.arange(len(x)) if args.no_shuffle else torch.randperm(len(x), generator=shuffle)
        total = 0.0
        # join() lets processes whose shard ran out of batches first wait for the others.
        with trainer.join() if distributed else contextlib.nullcontext():
            for start in range(0, len(x), args.batch):
                rows = order[start : start + args.batch]
                for group in optimizer.param_groups:
                    group["lr"] = args.lr if args.lr is not None else learning_rate(step, epoch)
                optimizer.zero_grad()
                batch_loss = loss(trainer(x[rows]), net.loss_targets(y[rows]))
                batch_loss.backward()
${clip.length ? clip.join("\n") + "\n" : ""}                optimizer.step()
                step += 1
                total += batch_loss.item() * len(rows)
        total, seen = all_sum([total, len(x)])
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}: training loss {total / seen:.9g}", flush=True)

    final = mean_loss(net, loss, x, y)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        model.save_safetensors(net.state_dict(), os.path.join(args.out, "model.safetensors"))
        shutil.copyfile(os.path.join(model.HERE, "blasnet.json"), os.path.join(args.out, "blasnet.json"))
        print(f"final loss {final!r}", flush=True)
        print(f"saved {os.path.join(args.out, 'model.safetensors')}; bring it back with: blasnet import-torch {args.out} MODEL_DIR", flush=True)
    if distributed:
        # Release the DDP wrapper (it holds the process group) and leave the group while every
        # process is still connected: a Gloo group torn down after a peer has gone can hang
        # (pytorch/pytorch#75097).
        del trainer
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;
}
