// The fused plan's step loop (see plan.h and lib/backend/plan.ts). The math of each op
// (activations, softmax, losses, clipping, optimizer updates) is in native/ops/*.h, shared with
// the per-kernel entry points (kernels.cc); each step kind's passes are in its step file
// (steps/<kind>.h, listed in steps/steps.h); this file runs them: the batch gather, forward, loss, backward and update of each step of a run.
//
// One step, for a batch X (B, in) gathered by index into a reused buffer:
//   forward   dense: Z = b + X W^T (GEMM accumulating onto the bias rows), then A = f(Z) in one
//             pass (Z is kept apart from A only where f' needs it: see
//             ActivationBackwardReadsInput)
//   loss      mean over the batch, gradient written into the first delta buffer; a non-finite
//             loss ends the run before backward and update
//   backward  dense: dZ = dA * f'(.) fused with db = column sums of dZ in one pass,
//             dW = dZ^T X and dX = dZ W (GEMMs; the first layer with parameters skips dX)
//   update    frozen gradients zeroed, clip (by value, then by global norm) and the optimizer over
//             the trainable ranges of the flat buffers; for P >= 65536 without norm clipping, each
//             step's parameters right after its backward pass (its gradient and weight are still
//             in L2)
//
// The step loop and everything it inlines are compiled per ISA (plan_isa.h) and dispatched once
// at load time. Runs flush subnormals to zero on the running thread (flush_denormals.h).
// Nothing here allocates, throws, or touches N-API: RunSteps runs on a libuv worker thread (its
// only wait: for rows the binding is still copying, StepArgs::rowsReady).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "fast_math.h"
#include "flush_denormals.h"
#include "ops/activations.h"
#include "ops/clipping.h"
#include "ops/losses.h"
#include "ops/optimizers.h"
#include "plan.h"
#include "plan_activations.h"
#include "plan_isa.h"
#include "plan_phase_timing.h"
#include "plan_workspace.h"
#include "rng.h"

namespace blasnet {
namespace plan {
namespace {

// One switch over the step kinds, generated from their list (steps/steps.h; no default:
// -Werror=switch makes a kind without a case an error); each case inlines its step file's Forward.
BN_INLINE const float* ForwardPass(Workspace& ws, const float* x, int64_t rows, bool training, Rng& rng) {
  const float* cur = x;
  for (Op& op : ws.ops) {
    op.inPtr = cur;
    BN_PHASE_FORWARD(&op - ws.ops.data());
    switch (op.kind) {
#define BN_FORWARD_CASE(name, code, Step)         \
  case LayerKind::name:                           \
    Step::Forward(op, ws, rows, training, rng);   \
    break;
      BN_LAYERS(BN_FORWARD_CASE)
#undef BN_FORWARD_CASE
    }
    cur = op.outPtr;
  }
  return cur;
}

// The step's mean loss (ops/losses.h), its gradient into g (rows, outFeatures).
BN_INLINE double LossAndGrad(const SpecDesc& spec, float* g, const float* pred, const float* yb, const int32_t* lb,
                             int64_t rows, const float* w) {
  const int64_t n = rows * spec.outFeatures;
  const int r = int(rows), c = int(spec.outFeatures);
  switch (spec.loss) {
    case Loss::mse:
    case Loss::mae:
    case Loss::huber: return ops::RegressionLossMean(RegressionLoss(int(spec.loss)), g, pred, yb, n, spec.huberDelta, w, c);
    case Loss::crossEntropy: return ops::SoftmaxCrossEntropy(g, pred, lb, r, c, w);
    case Loss::crossEntropyDense: return ops::SoftmaxCrossEntropyDense(g, pred, yb, r, c, w);
    case Loss::bce: return ops::BceWithLogits(g, pred, yb, n, w, c);
  }
  return 0.0;
}


BN_INLINE void UpdateRange(const SpecDesc& spec, Workspace& ws, float lr, int64_t step, int64_t off, int64_t n,
                           double clipValue);

// Backward from the loss gradient in ws.d0; writes every step's parameter gradients into grads
// (and, when the update is fused, updates the step's parameters right after).
BN_INLINE void BackwardPass(const SpecDesc& spec, Workspace& ws, int64_t rows, float lr, int64_t step) {
  float* d = ws.d0;
  float* other = ws.d1;
  for (size_t i = ws.ops.size(); i-- > 0;) {
    Op& op = ws.ops[i];
    if (!op.backward) break;
    float* dIn = d;
    BN_PHASE_BACKWARD(i);
    switch (op.kind) {
#define BN_BACKWARD_CASE(name, code, Step)          \
  case LayerKind::name:                             \
    dIn = Step::Backward(op, ws, d, other, rows);   \
    break;
      BN_LAYERS(BN_BACKWARD_CASE)
#undef BN_BACKWARD_CASE
    }
    if (dIn == other) std::swap(d, other);
    if (ws.fuseUpdate) {
      for (const ParamRange& r : op.updates) UpdateRange(spec, ws, lr, step, r.begin, r.end - r.begin, spec.clipValue);
    }
  }
}

// Clip by value (when clipValue > 0), then the optimizer step (ops/optimizers.h), over parameters
// [off, off + n); each state slot holds all P parameters.
BN_INLINE void UpdateRange(const SpecDesc& spec, Workspace& ws, float lr, int64_t step, int64_t off, int64_t n,
                           double clipValue) {
  float* p = ws.params + off;
  float* g = ws.grads + off;
  if (clipValue > 0) ops::Clip(g, n, -float(clipValue), float(clipValue));
  ops::OptimizerStep(spec.optimizer, p, g, ws.state + off, spec.paramCount, n, double(lr), step, spec.hyper);
}

// The update after the backward pass. Frozen gradients are zeroed first (so they count nowhere,
// clipNorm included). Fused: the trainable parameters no step owns (the steps' own were updated
// during backward); otherwise clip (by value, then by global norm) and update the trainable ranges.
BN_INLINE void Update(const SpecDesc& spec, Workspace& ws, float lr, int64_t step) {
  for (const ParamRange& r : ws.frozen) std::memset(ws.grads + r.begin, 0, size_t(r.end - r.begin) * sizeof(float));
  if (ws.fuseUpdate) {
    for (const ParamRange& r : ws.gaps) UpdateRange(spec, ws, lr, step, r.begin, r.end - r.begin, spec.clipValue);
    return;
  }
  const int64_t P = spec.paramCount;
  float* g = ws.grads;
  double clipValue = spec.clipValue;
  if (spec.clipNorm > 0) {
    if (spec.clipValue > 0) ops::Clip(g, P, -float(spec.clipValue), float(spec.clipValue));
    const double norm = std::sqrt(ops::SumSquares(g, P));
    const double coef = spec.clipNorm / (norm + 1e-6);
    if (coef < 1) ops::Scale(g, P, coef);
    clipValue = 0;  // already clipped by value above
  }
  for (const ParamRange& r : ws.trainable) UpdateRange(spec, ws, lr, step, r.begin, r.end - r.begin, clipValue);
}

// Returns once `ready` (written by the thread copying the run's rows, with release stores) counts
// at least `need` rows; its acquire load makes those rows' contents visible here. The copy runs far
// faster than the steps, so the wait is short when it happens at all (the first batches of a run):
// spin a little, then give the core away, which the copying thread may need on a busy machine.
inline void WaitForRows(const std::atomic<int64_t>& ready, int64_t need) {
  for (int spins = 0; ready.load(std::memory_order_acquire) < need; spins++) {
    if (spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
}

BN_CLONES int64_t RunStepsImpl(const SpecDesc& spec, Workspace& ws, const StepArgs& run) {
  Rng rng;
  if (ws.hasDropout) rng.SetState(ws.rngState);
  const int64_t inF = spec.inFeatures;
  const int64_t outF = spec.outFeatures;
  const bool labels = spec.loss == Loss::crossEntropy;
  int64_t completed = 0;
  for (int64_t s = 0; s < run.steps; s++) {
    const int64_t first = run.start + s * run.batchSize;
    const int64_t rows = std::min(run.batchSize, run.orderLength - first);
    const int32_t* idx = run.order + first;
    const float* xb = ws.xb;
    const float* yb = ws.yb;
    const int32_t* lb = ws.lb.data();
    if (run.gathered) {
      // The caller copies the run's rows in step order (the batch is contiguous), maybe still
      // copying later batches while this one trains: wait until this one's rows are all written.
      if (run.rowsReady) WaitForRows(*run.rowsReady, first + rows);
      xb = run.x + first * inF;
      if (labels) lb = run.yLabels + first;
      else yb = run.yFloat + first * outF;
    } else {
      // Gather the batch by index into the reused batch buffers. Rows sit at random places in x:
      // for wide rows, prefetch the row kPrefetchRows ahead so its cache misses overlap the copies.
      // (Two loops: with the width test inside one loop, T1's 1-wide steps ran about 5% slower.)
      if (inF >= 64) {
        constexpr int64_t kPrefetchRows = 4;
        for (int64_t r = 0; r < rows; r++) {
          if (r + kPrefetchRows < rows) {
            const char* next = reinterpret_cast<const char*>(run.x + int64_t(idx[r + kPrefetchRows]) * inF);
            for (int64_t b = 0; b < inF * int64_t(sizeof(float)); b += 64) __builtin_prefetch(next + b);
          }
          const float* src = run.x + int64_t(idx[r]) * inF;
          float* dst = ws.xb + r * inF;
          for (int64_t j = 0; j < inF; j++) dst[j] = src[j];
        }
      } else {
        for (int64_t r = 0; r < rows; r++) {
          const float* src = run.x + int64_t(idx[r]) * inF;
          float* dst = ws.xb + r * inF;
          for (int64_t j = 0; j < inF; j++) dst[j] = src[j];
        }
      }
      if (labels) {
        for (int64_t r = 0; r < rows; r++) ws.lb[r] = run.yLabels[idx[r]];
      } else {
        for (int64_t r = 0; r < rows; r++) {
          const float* src = run.yFloat + int64_t(idx[r]) * outF;
          float* dst = ws.yb + r * outF;
          for (int64_t j = 0; j < outF; j++) dst[j] = src[j];
        }
      }
    }
    const float* pred = ForwardPass(ws, xb, rows, run.training, rng);
    const float* wb = run.weights ? run.weights + (first - run.start) : nullptr;
    double loss;
    {
      BN_PHASE_LOSS();
      loss = LossAndGrad(spec, ws.d0, pred, yb, lb, rows, wb);
    }
    run.losses[s] = float(loss);
    // Checked as stored: a loss beyond float32's range is reported as Infinity, and its step's
    // gradients would overflow the weights.
    if (!std::isfinite(run.losses[s])) break;
    BackwardPass(spec, ws, rows, run.lr[s], run.firstStep + s);
    {
      BN_PHASE_UPDATE();
      Update(spec, ws, run.lr[s], run.firstStep + s);
    }
    completed++;
  }
  if (ws.hasDropout) rng.GetState(ws.rngState);
  return completed;
}

BN_CLONES void ForwardImpl(Workspace& ws, const SpecDesc& spec, float* out, const float* x, int64_t rows) {
  Rng rng;  // unused: dropout is off in inference
  const float* y = ForwardPass(ws, x, rows, false, rng);
  std::memcpy(out, y, size_t(rows * spec.outFeatures) * sizeof(float));
}

BN_CLONES void ActivationImpl(Activation act, float alpha, float* y, float* dx, float* db, const float* x,
                              const float* dy, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  ActForward(act, y, x, n, alpha);
  std::memcpy(dx, dy, size_t(n) * sizeof(float));
  // As BackwardPass does for a dense layer's fused activation.
  const float* in = ops::ActivationBackwardReadsInput(act) ? x : y;
  if (cols < 16) {
    ActBackward(act, dx, in, y, n, alpha);
    ColumnSums(db, dx, rows, cols);
  } else {
    ActBackBias(act, dx, in, y, db, rows, cols, alpha);
  }
}

BN_CLONES void FastMathImpl(int fn, float* out, const float* x, int64_t n) {
  if (fn == 0) {
    for (int64_t i = 0; i < n; i++) out[i] = fastmath::Exp(x[i]);
  } else if (fn == 1) {
    for (int64_t i = 0; i < n; i++) out[i] = fastmath::Sigmoid(x[i]);
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = fastmath::Tanh(x[i]);
  }
}

}  // namespace

int64_t Plan::RunSteps(const StepArgs& run) {
  if (run.steps <= 0) return 0;
  const ScopedFlushDenormals flush;  // decaying optimizer state must not go subnormal (see header)
  const RunThreads own(*ws_);  // OpenBLAS on one thread while the plan runs on its own threads (plan_workspace.h)
  return RunStepsImpl(spec_, *ws_, run);
}

void Plan::Forward(float* out, const float* x, int64_t rows) {
  if (rows <= 0) return;
  const RunThreads own(*ws_);
  ForwardImpl(*ws_, spec_, out, x, rows);
}

void FastMathApply(int fn, float* out, const float* x, int64_t n) { FastMathImpl(fn, out, x, n); }

void ActivationApply(Activation act, float alpha, float* y, float* dx, float* db, const float* x, const float* dy,
                     int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  ActivationImpl(act, alpha, y, dx, db, x, dy, rows, cols);
}

}  // namespace plan
}  // namespace blasnet
