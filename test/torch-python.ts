/**
 * The Python with PyTorch that the PyTorch export tests run (Debian's python3-torch in CI).
 *
 * Tried in order: $BLASNET_PYTHON, `python3` on the PATH, /usr/bin/python3 (where Debian's package
 * puts it when another python3 comes first on the PATH). Without one, the tests are skipped with
 * the reason, except under CI=true, where they must run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { finished, type Run } from "./helpers.js";

export interface TorchPython {
  python: string;
  /** The torchrun command (argv prefix). */
  torchrun: string[];
}

function probe(): TorchPython | string {
  const tried: string[] = [];
  const candidates = [process.env["BLASNET_PYTHON"], "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    const r = spawnSync(python, ["-c", "import sys, numpy, torch, torch.distributed; print(sys.executable)"], { encoding: "utf8" });
    if (r.status === 0) {
      // The torchrun script installed next to this python runs torch.distributed.run, as the module does.
      const next = join(dirname(r.stdout.trim()), "torchrun");
      return { python, torchrun: existsSync(next) ? [next] : [python, "-m", "torch.distributed.run"] };
    }
    tried.push(`${python}: ${(r.error?.message ?? r.stderr.trim().split("\n").pop() ?? "").slice(0, 120)}`);
  }
  return `no Python 3 with PyTorch and numpy (install python3-torch; tried ${tried.join("; ")})`;
}

const found = probe();
if (typeof found === "string" && process.env["CI"]) {
  throw new Error(`CI requires PyTorch for the PyTorch export tests, but ${found}`);
}

/** The Python with PyTorch, or undefined (then `torchSkipReason` says why). */
export const torchPython: TorchPython | undefined = typeof found === "string" ? undefined : found;
export const torchSkipReason: string = typeof found === "string" ? found : "";

/**
 * Run `args` (a command and its arguments) in `cwd`; resolves with its exit code and output. After
 * `timeoutMs` the command and its children (its process group) are killed, and the output so far
 * is returned with a note.
 */
export async function run(args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Run> {
  const child = spawn(args[0]!, args.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const timer = setTimeout(() => {
    timedOut = true;
    // SIGABRT first: with PYTHONFAULTHANDLER=1 each Python process prints where it was stuck.
    process.kill(-child.pid!, "SIGABRT");
    setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 2000).unref();
  }, timeoutMs);
  let timedOut = false;
  const r = await finished(child);
  clearTimeout(timer);
  return timedOut ? { ...r, stderr: `${r.stderr}\n(killed after ${timeoutMs} ms: ${args.join(" ")})` } : r;
}

/** A TCP port free on the loopback interface right now (for torchrun's rendezvous). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * torchrun with `nproc` processes on this machine, on the loopback interface only.
 * `--redirects 9:0 --tee 9:0` works around Debian 12's torchrun (1.13 on Python 3.11), which
 * otherwise fails with "'NoneType' object has no attribute 'get'"; it changes nothing elsewhere.
 */
export async function torchrun(tp: TorchPython, nproc: number, script: string[], cwd: string, timeoutMs?: number): Promise<Run> {
  const port = await freePort();
  return run(
    [...tp.torchrun, "--redirects", "9:0", "--tee", "9:0", "--nnodes", "1", "--nproc_per_node", String(nproc), "--master_addr", "127.0.0.1", "--master_port", String(port), "--monitor_interval", "1", ...script],
    cwd,
    { MASTER_ADDR: "127.0.0.1", GLOO_SOCKET_IFNAME: "lo", OMP_NUM_THREADS: "1", PYTHONFAULTHANDLER: "1" },
    timeoutMs,
  );
}
