// The fused training plan engine (plain C++, no N-API): see plan.h and lib/backend/plan.ts.
// The math of each op (activations, softmax, losses, clipping, optimizer updates) is in
// native/ops/*.h, shared with the per-kernel entry points (kernels.cc); this file holds the step
// loop, the GEMM dispatch, the fused passes that compose those ops, and the workspace.
//
// One step, for a batch X (B, in) gathered by index into a reused buffer:
//   forward   dense: Z = b + X W^T (GEMM accumulating onto the bias rows), then A = f(Z) in one
//             pass (Z is kept apart from A only where f' needs it: see
//             ActivationBackwardReadsInput)
//   loss      mean over the batch, gradient written into the first delta buffer; a non-finite
//             loss ends the run before backward and update
//   backward  dense: dZ = dA * f'(.) fused with db = column sums of dZ in one pass,
//             dW = dZ^T X and dX = dZ W (GEMMs; the first dense layer skips dX)
//   update    clip (by value, then by global norm) and the optimizer, over the flat buffers;
//             for P >= 65536 without norm clipping, each layer right after its backward GEMMs
//             (its gradient and weight are still in L2); plain SGD on big layers via saxpy
//
// GEMMs go to OpenBLAS, except tiny ones where plain loops win (see kLoopForwardMax).
// The step loop and everything it inlines are compiled three times (baseline x86-64, x86-64-v3
// AVX2 + FMA, x86-64-v4 AVX-512) with GCC target_clones and dispatched once at load time.
// Runs flush subnormals to zero on the running thread (flush_denormals.h).
// Nothing here allocates after the constructor, throws, or touches N-API: RunSteps runs on a
// libuv worker thread.
#include "plan.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fast_math.h"
#include "flush_denormals.h"
#include "ops/activations.h"
#include "ops/clipping.h"
#include "ops/losses.h"
#include "ops/optimizers.h"
#include "ops/softmax.h"
#include "rng.h"

// Per-ISA versions by feature level (not by CPU model: arch=haswell would only match Haswells).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__ELF__) && \
    !defined(BLASNET_NO_CLONES)
#define BN_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(BLASNET_NO_CLONES)
#define BN_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define BN_CLONES
#endif
// GCC contracts a*b+c into FMA by default (-ffp-contract=fast, -std=c++17 included): the
// polynomials and optimizer loops use it in the x86-64-v3/v4 versions; the baseline one has none.
#define BN_INLINE inline __attribute__((always_inline))

namespace blasnet {
namespace plan {

// ---------------------------------------------------------------------------------------------
// Small GEMMs: plain loops only where they beat cblas_sgemm.
//
// Measured (throwaway microbenchmark linking this file; Xeon model 167, AVX-512 clone, OpenBLAS
// 0.3.21 pthreads SKYLAKEX kernels; thread CPU ns per call, best of 7; m = batch rows, n = out,
// k = in; the same at 1 and 2 BLAS threads, as OpenBLAS runs such sizes on the calling thread):
//
//   m,n,k (m*n*k)      forward X W^T      dW = dZ^T X        dX = dZ W
//                      loops   sgemm      loops   sgemm      loops   sgemm
//   10,3,1 (30)           30      95         57      23         52      38
//   10,1,3 (30)           47      94         20      40         28      24
//   4,4,4 (64)            37      84         40      32         41      24
//   10,4,4 (160)          82     117         76      39         79      34
//   8,8,8 (512)           91     126        113      58        112      31
//   10,10,10 (1000)      199     168        179      78        179      49
//   16,8,8 (1024)        171     139        219      74        181      51
//   16,16,16 (4096)      358     215        434      60        418      79
//   32,32,32 (32768)    2140     990       1841     335       1824     372
//   64,64,64 (262144)  15662    4460      12156    2422      14608    2738
//
// OpenBLAS's small-matrix kernels make its TN / NN calls cheap from the smallest sizes on, so the
// backward GEMMs use loops only below 64 multiply-adds (the lecture network's 10,1,3 dW). The
// forward NT call has a ~90 ns floor; loops win up to about 640 multiply-adds (crossover between
// 512 and 1000). On the lecture network (1 -> 3 sigmoid -> 1, batch 10) the whole step takes about
// 260 ns with these thresholds (290 ns with every backward GEMM in OpenBLAS).
#ifndef BLASNET_LOOP_FORWARD_MAX
#define BLASNET_LOOP_FORWARD_MAX 640
#endif
#ifndef BLASNET_LOOP_BACKWARD_MAX
#define BLASNET_LOOP_BACKWARD_MAX 64
#endif
constexpr int64_t kLoopForwardMax = BLASNET_LOOP_FORWARD_MAX;
constexpr int64_t kLoopBackwardMax = BLASNET_LOOP_BACKWARD_MAX;

BN_INLINE bool UseLoops(int64_t m, int64_t n, int64_t k) { return m * n * k <= kLoopForwardMax; }
BN_INLINE bool UseLoopsBackward(int64_t m, int64_t n, int64_t k) { return m * n * k <= kLoopBackwardMax; }

// wt (k, n) = w (n, k) transposed.
BN_INLINE void Transpose(float* __restrict wt, const float* __restrict w, int64_t n, int64_t k) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t p = 0; p < k; p++) wt[p * n + j] = w[j * k + p];
}

// c (m, n) = bias (n) + a (m, k) * b (k, n): row i of c is the bias plus a sum of rows of b
// (vectorizes over n). bias may be null.
BN_INLINE void LoopNN(float* __restrict c, const float* __restrict a, const float* __restrict b, int64_t m,
                      int64_t n, int64_t k, const float* __restrict bias = nullptr) {
  for (int64_t i = 0; i < m; i++) {
    float* __restrict ci = c + i * n;
    const float* __restrict ai = a + i * k;
    {
      const float s = ai[0];
      if (bias) {
        for (int64_t j = 0; j < n; j++) ci[j] = bias[j] + s * b[j];
      } else {
        for (int64_t j = 0; j < n; j++) ci[j] = s * b[j];
      }
    }
    for (int64_t p = 1; p < k; p++) {
      const float s = ai[p];
      const float* __restrict bp = b + p * n;
      for (int64_t j = 0; j < n; j++) ci[j] += s * bp[j];
    }
  }
}

// c (n, k) = d (m, n)^T * x (m, k): row j of c is a sum over batch rows of d[i,j] x[i,:].
BN_INLINE void LoopTN(float* __restrict c, const float* __restrict d, const float* __restrict x, int64_t m,
                      int64_t n, int64_t k) {
  for (int64_t j = 0; j < n; j++) {
    float* __restrict cj = c + j * k;
    {
      const float s = d[j];
      for (int64_t p = 0; p < k; p++) cj[p] = s * x[p];
    }
    for (int64_t i = 1; i < m; i++) {
      const float s = d[i * n + j];
      const float* __restrict xi = x + i * k;
      for (int64_t p = 0; p < k; p++) cj[p] += s * xi[p];
    }
  }
}

// Every GEMM here accumulates (beta = 1) onto an output we have just filled ourselves (zeros, or
// the bias rows in the forward pass), instead of asking OpenBLAS for beta = 0: its threaded driver
// then runs a separate sgemm_beta pass over C, which costs more than our fill. Measured on the T4
// shapes at 2 threads, cycling through 17 layers' buffers as a step does (us per call, beta 0 ->
// beta 1 + our fill): forward 64x256x256 46.6 -> 41.4 + 1.0, dW 256x256 (k 64) 58.2 -> 40.9 + 8.8,
// dX 43.4 -> 38.7 + 1.0; about 0.3 ms of a 3 ms T4 step.
//
// dW (n, k) = dz (m, n)^T * x (m, k).
BN_INLINE void GemmWeightGrad(float* dw, const float* dz, const float* x, int64_t m, int64_t n, int64_t k) {
  if (UseLoopsBackward(m, n, k)) {
    LoopTN(dw, dz, x, m, n, k);
  } else {
    std::memset(dw, 0, size_t(n * k) * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(n), int(k), int(m), 1.0f, dz, int(n), x, int(k), 1.0f,
                dw, int(k));
  }
}

// dX (m, k) = dz (m, n) * w (n, k).
BN_INLINE void GemmInputGrad(float* dx, const float* dz, const float* w, int64_t m, int64_t n, int64_t k) {
  if (UseLoopsBackward(m, n, k)) {
    LoopNN(dx, dz, w, m, k, n);
  } else {
    std::memset(dx, 0, size_t(m * k) * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(k), int(n), 1.0f, dz, int(n), w, int(k), 1.0f,
                dx, int(k));
  }
}

// ---------------------------------------------------------------------------------------------
// Activations: the loops of the fused plan over the per-element definitions in ops/activations.h.

// Fused backward prologue: d (rows, cols) = dA * f'(x, y) in place, and db = column sums of it.
template <Activation A>
BN_INLINE void ActBackBiasT(float* d, const float* x, const float* y, float* __restrict db, int64_t rows,
                            int64_t cols, float alpha) {
  for (int64_t j = 0; j < cols; j++) db[j] = 0.0f;
  for (int64_t i = 0; i < rows; i++) {
    float* di = d + i * cols;
    const float* xi = x + i * cols;
    const float* yi = y + i * cols;
    for (int64_t j = 0; j < cols; j++) {
      float g = di[j];
      if constexpr (A != Activation::linear) {
        g = ops::ActivationBackward<A>(g, xi[j], yi[j], alpha);
        di[j] = g;
      }
      db[j] += g;
    }
  }
}

BN_INLINE void ActBackBias(Activation act, float* d, const float* x, const float* y, float* db, int64_t rows,
                           int64_t cols, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ActBackBiasT<Activation::name>(d, x, y, db, rows, cols, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

// db (cols) = column sums of d (rows, cols).
BN_INLINE void ColumnSums(float* __restrict db, const float* __restrict d, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; j++) db[j] = d[j];
  for (int64_t i = 1; i < rows; i++) {
    const float* di = d + i * cols;
    for (int64_t j = 0; j < cols; j++) db[j] += di[j];
  }
}

template <Activation A>
BN_INLINE void ActForwardT(float* y, const float* x, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) y[i] = ops::ActivationForward<A>(x[i], alpha);
}

BN_INLINE void ActForward(Activation act, float* y, const float* x, int64_t n, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ActForwardT<Activation::name>(y, x, n, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

template <Activation A>
BN_INLINE void ActBackwardT(float* d, const float* x, const float* y, int64_t n, float alpha) {
  if constexpr (A != Activation::linear) {
    for (int64_t i = 0; i < n; i++) d[i] = ops::ActivationBackward<A>(d[i], x[i], y[i], alpha);
  }
}

BN_INLINE void ActBackward(Activation act, float* d, const float* x, const float* y, int64_t n, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ActBackwardT<Activation::name>(d, x, y, n, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

// ---------------------------------------------------------------------------------------------
// Workspace: the compiled op list and every buffer, allocated once.

namespace {

// 64-byte aligned float storage (one cache line; full AVX-512 vectors).
struct AlignedFloats {
  float* data = nullptr;
  explicit AlignedFloats(int64_t n) {
    const size_t bytes = (size_t(std::max<int64_t>(n, 1)) * sizeof(float) + 63) / 64 * 64;
    data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
    std::memset(data, 0, bytes);
  }
  ~AlignedFloats() { std::free(data); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};

}  // namespace

struct Op {
  LayerKind kind = LayerKind::dense;
  int64_t in = 0, out = 0;  // widths
  // dense (with the activation that follows it fused in)
  float* w = nullptr;
  const float* b = nullptr;  // bias, or the shared zeros
  float* dw = nullptr;
  float* db = nullptr;  // bias grad, or a scratch row
  float* wt = nullptr;  // (in, out) transpose scratch for the loop path, or null
  int64_t weightOffset = 0, biasOffset = -1;
  Activation act = Activation::linear;
  float alpha = 0;
  bool needDx = true;    // produce the input gradient (false for the first dense layer)
  bool backward = true;  // take part in backward (false for layers before the first dense one)
  float* z = nullptr;    // GEMM output (+ bias), (B, out)
  float* a = nullptr;    // output, (B, out); == z when act is linear
  // dropout
  double rate = 0;
  double keepScale = 1;
  float* mask = nullptr;  // kept-and-scaled mask (B, out)
  // set by each forward pass
  const float* inPtr = nullptr;
  const float* outPtr = nullptr;
};

struct Workspace {
  std::vector<Op> ops;
  std::vector<std::unique_ptr<AlignedFloats>> owned;
  float* xb = nullptr;   // (B, in)
  float* yb = nullptr;   // (B, out)
  std::vector<int32_t> lb;  // (B) class labels
  float* d0 = nullptr;  // delta ping-pong buffers, (B, max width)
  float* d1 = nullptr;
  float* params = nullptr;
  float* grads = nullptr;
  float* state = nullptr;
  uint32_t* rngState = nullptr;
  bool hasDropout = false;
  // Update each dense layer's parameters right after its backward GEMMs, while its gradient (and
  // weight, just read by the dX GEMM) are still in L2, instead of one pass over all P at the end:
  // only without global-norm clipping (which needs every gradient first), and only when the
  // parameters outgrow the caches anyway (below that, one loop over P is cheaper than many).
  bool fuseUpdate = false;
  std::vector<std::pair<int64_t, int64_t>> gaps;  // [begin, end) of parameters no layer owns

  float* Alloc(int64_t n) {
    owned.push_back(std::make_unique<AlignedFloats>(n));
    return owned.back()->data;
  }
};

Plan::Plan(const SpecDesc& spec, float* params, float* grads, float* state, uint32_t* rngState)
    : spec_(spec), ws_(std::make_unique<Workspace>()) {
  Workspace& ws = *ws_;
  ws.params = params;
  ws.grads = grads;
  ws.state = state;
  ws.rngState = rngState;
  const int64_t B = spec.batchSize;
  int64_t maxWidth = std::max(spec.inFeatures, spec.outFeatures);
  {
    int64_t width = spec.inFeatures;
    for (const LayerDesc& l : spec.layers) {
      if (l.kind == LayerKind::dense) width = l.outFeatures;
      maxWidth = std::max(maxWidth, width);
    }
  }
  float* zeros = ws.Alloc(maxWidth);
  float* dbScratch = ws.Alloc(maxWidth);
  ws.xb = ws.Alloc(B * spec.inFeatures);
  ws.yb = ws.Alloc(B * spec.outFeatures);
  ws.lb.assign(size_t(B), 0);
  ws.d0 = ws.Alloc(B * maxWidth);
  ws.d1 = ws.Alloc(B * maxWidth);

  int64_t width = spec.inFeatures;
  bool seenDense = false;
  const size_t L = spec.layers.size();
  for (size_t i = 0; i < L; i++) {
    const LayerDesc& l = spec.layers[i];
    Op op;
    op.kind = l.kind;
    op.in = width;
    op.backward = seenDense || l.kind == LayerKind::dense;
    switch (l.kind) {
      case LayerKind::dense: {
        op.out = l.outFeatures;
        op.w = params + l.weightOffset;
        op.dw = grads + l.weightOffset;
        op.b = l.biasOffset >= 0 ? params + l.biasOffset : zeros;
        op.db = l.biasOffset >= 0 ? grads + l.biasOffset : dbScratch;
        op.needDx = seenDense;
        op.weightOffset = l.weightOffset;
        op.biasOffset = l.biasOffset;
        seenDense = true;
        if (op.in * op.out <= kLoopForwardMax) op.wt = ws.Alloc(op.in * op.out);
        op.z = ws.Alloc(B * op.out);
        if (i + 1 < L && spec.layers[i + 1].kind == LayerKind::activation) {
          op.act = spec.layers[i + 1].activation;
          op.alpha = float(spec.layers[i + 1].alpha);
          i++;  // the activation is fused into this op
        }
        op.a = op.act == Activation::linear ? op.z : ws.Alloc(B * op.out);
        break;
      }
      case LayerKind::activation:
        op.out = width;
        op.act = l.activation;
        op.alpha = float(l.alpha);
        op.a = op.act == Activation::linear ? nullptr : ws.Alloc(B * op.out);
        break;
      case LayerKind::softmax:
        op.out = width;
        op.a = ws.Alloc(B * op.out);
        break;
      case LayerKind::dropout:
        op.out = width;
        op.rate = l.rate;
        op.keepScale = 1.0 / (1.0 - l.rate);
        op.a = ws.Alloc(B * op.out);
        op.mask = ws.Alloc(B * op.out);
        ws.hasDropout = true;
        break;
    }
    width = op.out;
    ws.ops.push_back(op);
  }
  ws.fuseUpdate = spec.clipNorm == 0 && spec.paramCount >= 65536;
  std::vector<std::pair<int64_t, int64_t>> owned;
  for (const LayerDesc& l : spec.layers) {
    if (l.kind != LayerKind::dense) continue;
    owned.push_back({l.weightOffset, l.weightOffset + l.inFeatures * l.outFeatures});
    if (l.biasOffset >= 0) owned.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
  }
  std::sort(owned.begin(), owned.end());
  int64_t at = 0;
  for (const auto& r : owned) {
    if (r.first > at) ws.gaps.push_back({at, r.first});
    at = std::max(at, r.second);
  }
  if (at < spec.paramCount) ws.gaps.push_back({at, spec.paramCount});
}

Plan::~Plan() = default;

// ---------------------------------------------------------------------------------------------
// The step loop (compiled per ISA).

namespace {

BN_INLINE const float* ForwardPass(Workspace& ws, const float* x, int64_t rows, bool training, Rng& rng) {
  const float* cur = x;
  for (Op& op : ws.ops) {
    op.inPtr = cur;
    switch (op.kind) {
      case LayerKind::dense:
        if (UseLoops(rows, op.out, op.in)) {
          // Small: bias folded into the loop GEMM.
          Transpose(op.wt, op.w, op.out, op.in);
          LoopNN(op.z, cur, op.wt, rows, op.out, op.in, op.b);
        } else {
          // z (rows, out) = bias rows + x (rows, in) * W^T (W stored (out, in); the GEMM accumulates
          // onto the bias, see GemmWeightGrad).
          for (int64_t r = 0; r < rows; r++) std::memcpy(op.z + r * op.out, op.b, size_t(op.out) * sizeof(float));
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(op.out), int(op.in), 1.0f, cur,
                      int(op.in), op.w, int(op.in), 1.0f, op.z, int(op.out));
        }
        // Then the activation in one flat (vectorized) pass over all rows * out values of z.
        if (op.act != Activation::linear) ActForward(op.act, op.a, op.z, rows * op.out, op.alpha);
        op.outPtr = op.a;
        break;
      case LayerKind::activation:
        if (op.act == Activation::linear) {
          op.outPtr = cur;
        } else {
          ActForward(op.act, op.a, cur, rows * op.out, op.alpha);
          op.outPtr = op.a;
        }
        break;
      case LayerKind::softmax:
        ops::SoftmaxForward(op.a, cur, int(rows), int(op.out));
        op.outPtr = op.a;
        break;
      case LayerKind::dropout: {
        const int64_t n = rows * op.out;
        if (!training || op.rate == 0.0) {
          op.outPtr = cur;  // identity (mask of ones)
          op.inPtr = nullptr;
        } else {
          const double rate = op.rate;
          const double keepScale = op.keepScale;
          const float maskKeep = float(keepScale);
          for (int64_t i = 0; i < n; i++) {
            const bool keep = double(rng.Uniform()) >= rate;
            op.mask[i] = keep ? maskKeep : 0.0f;
            op.a[i] = keep ? float(double(cur[i]) * keepScale) : 0.0f;
          }
          op.outPtr = op.a;
        }
        break;
      }
    }
    cur = op.outPtr;
  }
  return cur;
}

// The step's mean loss (ops/losses.h), its gradient into g (rows, outFeatures).
BN_INLINE double LossAndGrad(const SpecDesc& spec, float* g, const float* pred, const float* yb, const int32_t* lb,
                             int64_t rows) {
  const int64_t n = rows * spec.outFeatures;
  const int r = int(rows), c = int(spec.outFeatures);
  switch (spec.loss) {
    case Loss::mse:
    case Loss::mae:
    case Loss::huber: return ops::RegressionLossMean(RegressionLoss(int(spec.loss)), g, pred, yb, n, spec.huberDelta);
    case Loss::crossEntropy: return ops::SoftmaxCrossEntropy(g, pred, lb, r, c);
    case Loss::crossEntropyDense: return ops::SoftmaxCrossEntropyDense(g, pred, yb, r, c);
    case Loss::bce: return ops::BceWithLogits(g, pred, yb, n);
  }
  return 0.0;
}

// Backward from the loss gradient in ws.d0; writes every dense layer's dW and db into grads.
BN_INLINE void UpdateRange(const SpecDesc& spec, Workspace& ws, float lr, int64_t step, int64_t off, int64_t n,
                           double clipValue);

BN_INLINE void BackwardPass(const SpecDesc& spec, Workspace& ws, int64_t rows, float lr, int64_t step) {
  float* d = ws.d0;
  float* other = ws.d1;
  for (size_t i = ws.ops.size(); i-- > 0;) {
    Op& op = ws.ops[i];
    if (!op.backward) break;
    switch (op.kind) {
      case LayerKind::dense: {
        // For relu the output stands in for the pre-activation (same sign).
        const float* x = ops::ActivationBackwardReadsInput(op.act) ? op.z : op.a;
        if (op.out < 16) {
          // Narrow: flat (vectorized) derivative pass, then the column sums.
          ActBackward(op.act, d, x, op.a, rows * op.out, op.alpha);
          ColumnSums(op.db, d, rows, op.out);
        } else {
          ActBackBias(op.act, d, x, op.a, op.db, rows, op.out, op.alpha);
        }
        GemmWeightGrad(op.dw, d, op.inPtr, rows, op.out, op.in);
        if (op.needDx) {
          GemmInputGrad(other, d, op.w, rows, op.out, op.in);
          std::swap(d, other);
        }
        if (ws.fuseUpdate) {
          UpdateRange(spec, ws, lr, step, op.weightOffset, op.in * op.out, spec.clipValue);
          if (op.biasOffset >= 0) UpdateRange(spec, ws, lr, step, op.biasOffset, op.out, spec.clipValue);
        }
        break;
      }
      case LayerKind::activation:
        ActBackward(op.act, d, op.inPtr, op.outPtr, rows * op.out, op.alpha);
        break;
      case LayerKind::softmax:
        ops::SoftmaxBackward(d, d, op.a, int(rows), int(op.out));
        break;
      case LayerKind::dropout:
        if (op.inPtr != nullptr) {
          const int64_t n = rows * op.out;
          for (int64_t k = 0; k < n; k++) d[k] *= op.mask[k];
        }
        break;
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

// The update after a fused backward pass: the parameters no layer owns (the layers' own were
// updated during backward); otherwise clip (by value, then by global norm) and update all P.
BN_INLINE void Update(const SpecDesc& spec, Workspace& ws, float lr, int64_t step) {
  if (ws.fuseUpdate) {
    for (const auto& r : ws.gaps) UpdateRange(spec, ws, lr, step, r.first, r.second - r.first, spec.clipValue);
    return;
  }
  const int64_t P = spec.paramCount;
  float* g = ws.grads;
  if (spec.clipNorm > 0) {
    if (spec.clipValue > 0) ops::Clip(g, P, -float(spec.clipValue), float(spec.clipValue));
    const double norm = std::sqrt(ops::SumSquares(g, P));
    const double coef = spec.clipNorm / (norm + 1e-6);
    if (coef < 1) ops::Scale(g, P, coef);
    // Already clipped by value above: no second clip (and no copy of the spec, whose layer vector
    // would be a heap allocation per step).
    UpdateRange(spec, ws, lr, step, 0, P, 0);
  } else {
    UpdateRange(spec, ws, lr, step, 0, P, spec.clipValue);
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
      // The caller copied the run's rows in step order: the batch is already contiguous.
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
    const double loss = LossAndGrad(spec, ws.d0, pred, yb, lb, rows);
    run.losses[s] = float(loss);
    // Checked as stored: a loss beyond float32's range is reported as Infinity, and its step's
    // gradients would overflow the weights.
    if (!std::isfinite(run.losses[s])) break;
    BackwardPass(spec, ws, rows, run.lr[s], run.firstStep + s);
    Update(spec, ws, run.lr[s], run.firstStep + s);
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
  return RunStepsImpl(spec_, *ws_, run);
}

void Plan::Forward(float* out, const float* x, int64_t rows) {
  if (rows <= 0) return;
  ForwardImpl(*ws_, spec_, out, x, rows);
}

void FastMathApply(int fn, float* out, const float* x, int64_t n) { FastMathImpl(fn, out, x, n); }

void ActivationApply(Activation act, float alpha, float* y, float* dx, float* db, const float* x, const float* dy,
                     int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  ActivationImpl(act, alpha, y, dx, db, x, dy, rows, cols);
}

// ---------------------------------------------------------------------------------------------
// Validation (messages name the field, what was expected and what arrived).

namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

PlanError Range(const std::string& m) { return PlanError{true, m}; }

bool IsFinite(double v) { return std::isfinite(v); }

}  // namespace

PlanError ValidateSpec(const SpecDesc& spec, int64_t paramsLength, int64_t gradsLength, int64_t stateLength,
                       int64_t rngStateLength) {
  const int64_t kMaxDim = int64_t(1) << 30;
  auto dim = [&](const char* name, int64_t v) -> PlanError {
    if (v < 1 || v > kMaxDim) return Range(std::string("Invalid ") + name + ": " + Num(double(v)) + "; expected an integer in [1, 2^30]");
    return {};
  };
  if (auto e = dim("spec.inFeatures", spec.inFeatures); !e.ok()) return e;
  if (auto e = dim("spec.outFeatures", spec.outFeatures); !e.ok()) return e;
  if (auto e = dim("spec.batchSize", spec.batchSize); !e.ok()) return e;
  const int64_t P = spec.paramCount;
  if (P < 0 || P > (int64_t(1) << 40)) return Range("Invalid spec.paramCount: " + Num(double(P)) + "; expected a non-negative integer");
  if (spec.layers.empty()) return Range("Invalid spec.layers: expected at least one layer");
  if (paramsLength < P) return Range("Invalid buffers.params: expected at least spec.paramCount = " + Num(double(P)) + " values but received " + Num(double(paramsLength)));
  if (gradsLength < P) return Range("Invalid buffers.grads: expected at least spec.paramCount = " + Num(double(P)) + " values but received " + Num(double(gradsLength)));
  const int64_t need = int64_t(ops::OptimizerSlots(spec.optimizer, spec.hyper)) * P;
  if (stateLength < need) return Range("Invalid buffers.state: optimizer needs " + Num(double(need)) + " values (stateSlots x paramCount) but received " + Num(double(stateLength)));
  if (rngStateLength != 4) return Range("Invalid buffers.rngState: expected 4 uint32 words but received " + Num(double(rngStateLength)));

  // Layer chain, parameter ranges (inside [0, P), not overlapping), workspace sizes.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int64_t width = spec.inFeatures;
  for (size_t i = 0; i < spec.layers.size(); i++) {
    const LayerDesc& l = spec.layers[i];
    const std::string at = "spec.layers[" + std::to_string(i) + "]";
    switch (l.kind) {
      case LayerKind::dense: {
        if (l.inFeatures != width) return Range("Invalid " + at + ".inFeatures: " + Num(double(l.inFeatures)) + "; the previous layer produces " + Num(double(width)));
        if (auto e = dim((at + ".outFeatures").c_str(), l.outFeatures); !e.ok()) return e;
        const int64_t wn = l.inFeatures * l.outFeatures;
        if (l.weightOffset < 0 || l.weightOffset + wn > P) return Range("Invalid " + at + ".weightOffset: " + Num(double(l.weightOffset)) + "; the (" + Num(double(l.outFeatures)) + ", " + Num(double(l.inFeatures)) + ") weight must lie within the " + Num(double(P)) + " parameters");
        ranges.push_back({l.weightOffset, l.weightOffset + wn});
        if (l.biasOffset != -1) {
          if (l.biasOffset < 0 || l.biasOffset + l.outFeatures > P) return Range("Invalid " + at + ".biasOffset: " + Num(double(l.biasOffset)) + "; expected -1 or a bias of " + Num(double(l.outFeatures)) + " values within the " + Num(double(P)) + " parameters");
          ranges.push_back({l.biasOffset, l.biasOffset + l.outFeatures});
        }
        if (spec.batchSize * l.outFeatures > (int64_t(1) << 31) - 1 || wn > (int64_t(1) << 31) - 1) return Range("Invalid " + at + ": batchSize x outFeatures and the weight size must each be below 2^31");
        width = l.outFeatures;
        break;
      }
      case LayerKind::activation:
        if (!IsFinite(l.alpha)) return Range("Invalid " + at + ".alpha: " + Num(l.alpha) + "; expected a finite number");
        break;
      case LayerKind::softmax:
        break;
      case LayerKind::dropout:
        if (!(l.rate >= 0 && l.rate < 1)) return Range("Invalid " + at + ".rate: " + Num(l.rate) + "; expected a number in [0, 1)");
        break;
    }
  }
  if (width != spec.outFeatures) return Range("Invalid spec.outFeatures: " + Num(double(spec.outFeatures)) + "; the last layer produces " + Num(double(width)));
  if (spec.batchSize * std::max(spec.inFeatures, spec.outFeatures) > (int64_t(1) << 31) - 1) return Range("Invalid spec.batchSize: batchSize x features must be below 2^31");
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++) {
    if (ranges[i].first < ranges[i - 1].second) return Range("Invalid spec.layers: parameter ranges overlap at offset " + Num(double(ranges[i].first)));
  }

  // Loss and optimizer hyperparameters.
  if (spec.loss == Loss::huber && !(spec.huberDelta > 0 && IsFinite(spec.huberDelta))) return Range("Invalid spec.loss.delta: " + Num(spec.huberDelta) + "; expected a finite number > 0");
  auto nonneg = [&](const char* name, double v) -> PlanError {
    if (!(IsFinite(v) && v >= 0)) return Range(std::string("Invalid ") + name + ": " + Num(v) + "; expected a finite number >= 0");
    return {};
  };
  if (auto e = nonneg("spec.clipNorm", spec.clipNorm); !e.ok()) return e;
  if (auto e = nonneg("spec.clipValue", spec.clipValue); !e.ok()) return e;
  // The optimizer's hyperparameters: finite, flags 0 or 1 (their ranges are the TypeScript
  // optimizers' to check, once, when they are made).
  const char* const* hyperNames = OptimizerHyperNames(int(spec.optimizer));
  for (int h = 0; h < kOptimizerHyperCount; h++) {
    const double v = spec.hyper[h];
    const bool flag = ops::OptimizerHyperIsFlag(spec.optimizer, h);
    if (!IsFinite(v) || (flag && v != 0 && v != 1)) {
      return Range("Invalid spec.optimizer.hyper[" + std::to_string(h) + "] (" + hyperNames[h] + "): " + Num(v) +
                   (flag ? "; expected 0 or 1" : "; expected a finite number"));
    }
  }
  return {};
}

PlanError ValidateRun(const SpecDesc& spec, const StepArgs& run, int64_t xLength, int64_t yLength, bool yIsLabels,
                      int64_t lrLength, int64_t lossesLength) {
  const bool wantLabels = spec.loss == Loss::crossEntropy;
  if (wantLabels != yIsLabels) {
    return PlanError{false, wantLabels ? "Invalid run.y: expected an Int32Array of class indices for the crossEntropy loss"
                                       : "Invalid run.y: expected a Float32Array of targets (rows, outFeatures)"};
  }
  if (run.rows < 0) return Range("Invalid run.rows: " + Num(double(run.rows)) + "; expected a non-negative integer");
  if (run.steps < 0) return Range("Invalid run.steps: " + Num(double(run.steps)) + "; expected a non-negative integer");
  if (run.batchSize < 1 || run.batchSize > spec.batchSize) return Range("Invalid run.batchSize: " + Num(double(run.batchSize)) + "; expected an integer in [1, " + Num(double(spec.batchSize)) + "] (the plan's batch size)");
  if (run.start < 0 || (run.steps > 0 && run.start + (run.steps - 1) * run.batchSize >= run.orderLength)) return Range("Invalid run.start: " + Num(double(run.start)) + " with " + Num(double(run.steps)) + " steps of " + Num(double(run.batchSize)) + " runs past the " + Num(double(run.orderLength)) + " rows of run.order");
  if (run.firstStep < 1) return Range("Invalid run.firstStep: " + Num(double(run.firstStep)) + "; expected an integer >= 1");
  if (run.rows > xLength || xLength < run.rows * spec.inFeatures) return Range("Invalid run.x: expected at least " + Num(double(run.rows) * double(spec.inFeatures)) + " values (rows x inFeatures) but received " + Num(double(xLength)));
  const int64_t yNeed = run.rows * (wantLabels ? 1 : spec.outFeatures);
  if (yLength < yNeed) return Range("Invalid run.y: expected at least " + Num(double(yNeed)) + " values but received " + Num(double(yLength)));
  if (lrLength < run.steps) return Range("Invalid run.lr: expected at least " + Num(double(run.steps)) + " values (one per step) but received " + Num(double(lrLength)));
  if (lossesLength < run.steps) return Range("Invalid run.losses: expected at least " + Num(double(run.steps)) + " values (one per step) but received " + Num(double(lossesLength)));
  for (int64_t s = 0; s < run.steps; s++) {
    const double v = run.lr[s];
    if (!(IsFinite(v) && v >= 0)) return Range("Invalid run.lr[" + Num(double(s)) + "]: " + Num(v) + "; expected a finite number >= 0");
  }
  // Rows used by this run: their indices and (crossEntropy) their labels.
  const int64_t end = std::min(run.orderLength, run.start + run.steps * run.batchSize);
  for (int64_t i = run.start; i < end; i++) {
    const int32_t r = run.order[i];
    if (r < 0 || r >= run.rows) return Range("Invalid run.order[" + Num(double(i)) + "]: " + Num(double(r)) + "; expected a row index in [0, " + Num(double(run.rows)) + ")");
    if (wantLabels) {
      const int32_t c = run.yLabels[r];
      if (c < 0 || c >= spec.outFeatures) return Range("Invalid run.y[" + Num(double(r)) + "]: class " + Num(double(c)) + "; expected a class index in [0, " + Num(double(spec.outFeatures)) + ")");
    }
  }
  return {};
}

}  // namespace plan
}  // namespace blasnet
