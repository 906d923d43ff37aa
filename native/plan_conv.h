// The fused plan's image and normalization steps: conv2d, maxPool2d, avgPool2d, batchNorm,
// layerNorm, residualStart / residualEnd, one forward and one backward function each (as
// plan_layers.h for the dense steps; same conventions). The math of every op is ops/conv.h,
// ops/pool.h, ops/norm.h (one definition, shared with the per-kernel entry points); these
// functions arrange it for the step loop. Inlined into plan_steps.cc, so compiled per ISA with it.
//
// conv2d, x (rows, C, H, W), W (outC, K = C*kH*kW), y (rows, outC, outH*outW), in chunks of
// op.chunk samples (ConvChunk) through two workspaces every conv step shares:
//   forward   cols (K, n) = im2col(chunk); Y' (outC, n) = bias rows + W cols (a GEMM accumulating
//             onto the bias, as the dense step does); then one pass moves Y' to NCHW and applies
//             the activation fused into the step (for relu, y = max(Y', 0) as it is moved)
//   backward  dy *= f'(.) and db = per-channel sums over the whole batch; then per chunk:
//             dY' (outC, n) = dy moved back; cols = im2col(chunk) again (recomputing it costs less
//             than keeping the whole batch's, which would not stay in cache); dW += dY' cols^T;
//             dcols = W^T dY' into the cols buffer, dx = col2im(dcols) (not for the first layer)
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/activations.h"
#include "ops/conv.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "plan_activations.h"
#include "plan_isa.h"
#include "plan_workspace.h"

namespace blasnet {
namespace plan {

// Samples per conv chunk: the unrolled input of a chunk, K x chunk*outH*outW floats, is kept to
// about BLASNET_CONV_CHUNK_KB so that im2col writes it into the cache the GEMM then reads it from.
// Measured with test/native/plan_step_timing.cc (T5, batch 64, 1 OpenBLAS thread, process CPU time
// per step, two rounds, on a loaded machine): 256 KB 23.0 / 25.8 ms, 1024 KB 22.8 / 26.1 ms,
// 4096 KB 24.7 / 26.2 ms, the whole batch at once (64 MB) 31.9 / 29.6 ms.
#ifndef BLASNET_CONV_CHUNK_KB
#define BLASNET_CONV_CHUNK_KB 1024
#endif
inline int64_t ConvChunk(int64_t k, int64_t outHW, int64_t batch) {
  const int64_t perSample = k * outHW * int64_t(sizeof(float));
  const int64_t n = (int64_t(BLASNET_CONV_CHUNK_KB) * 1024) / std::max<int64_t>(perSample, 1);
  return std::clamp<int64_t>(n, 1, batch);
}

// --- conv2d (with the activation after it fused in) -------------------------------------------

BN_INLINE void ConvForward(Op& op, Workspace& ws, int64_t rows) {
  const int64_t C = op.outChannels, HW = op.outHW, K = op.k;
  for (int64_t n0 = 0; n0 < rows; n0 += op.chunk) {
    const int64_t nc = std::min(op.chunk, rows - n0);
    const int64_t n = nc * HW;
    ops::Im2col(ws.cols, n, op.inPtr + n0 * op.in, int(nc), op.win);
    float* y = ws.gemmOut;
    for (int64_t c = 0; c < C; c++) {
      float* yc = y + c * n;
      const float bias = op.b ? op.b[c] : 0.0f;
      for (int64_t j = 0; j < n; j++) yc[j] = bias;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(C), int(n), int(K), 1.0f, op.w, int(K), ws.cols, int(n),
                1.0f, y, int(n));
    // (outC, nc, HW) -> (nc, outC, HW), the activation applied on the way.
    for (int64_t s = 0; s < nc; s++) {
      float* a = op.a + (n0 + s) * op.out;
      for (int64_t c = 0; c < C; c++) {
        const float* src = y + c * n + s * HW;
        if (op.z) {
          float* z = op.z + (n0 + s) * op.out + c * HW;
          std::memcpy(z, src, size_t(HW) * sizeof(float));
          ActForward(op.act, a + c * HW, z, HW, op.alpha);
        } else {
          ActForward(op.act, a + c * HW, src, HW, op.alpha);
        }
      }
    }
  }
  op.outPtr = op.a;
}

BN_INLINE float* ConvBackward(Op& op, Workspace& ws, float* d, float* other, int64_t rows) {
  const int64_t C = op.outChannels, HW = op.outHW, K = op.k;
  if (op.act != Activation::linear) ActBackward(op.act, d, op.z ? op.z : op.a, op.a, rows * op.out, op.alpha);
  if (op.db) ops::ChannelBiasGrad(op.db, d, int(rows), int(C), HW);
  std::memset(op.dw, 0, size_t(C * K) * sizeof(float));
  for (int64_t n0 = 0; n0 < rows; n0 += op.chunk) {
    const int64_t nc = std::min(op.chunk, rows - n0);
    const int64_t n = nc * HW;
    float* dy = ws.gemmOut;
    ops::SwapAxes01(dy, d + n0 * op.out, nc, C, HW);
    ops::Im2col(ws.cols, n, op.inPtr + n0 * op.in, int(nc), op.win);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(C), int(K), int(n), 1.0f, dy, int(n), ws.cols, int(n), 1.0f,
                op.dw, int(K));
    if (op.needDx) {
      std::memset(ws.cols, 0, size_t(K * n) * sizeof(float));
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(K), int(n), int(C), 1.0f, op.w, int(K), dy, int(n), 1.0f,
                  ws.cols, int(n));
      ops::Col2im(other + n0 * op.in, ws.cols, n, int(nc), op.win);
    }
  }
  return op.needDx ? other : d;
}

// --- pooling ---------------------------------------------------------------------------------------

BN_INLINE void MaxPoolForward(Op& op, int64_t rows) {
  ops::MaxPool2dForward(op.a, op.argmax, op.inPtr, int(rows), op.win);
  op.outPtr = op.a;
}

BN_INLINE float* MaxPoolBackward(Op& op, float* d, float* other, int64_t rows) {
  ops::MaxPool2dBackward(other, d, op.argmax, int(rows), op.win);
  return other;
}

BN_INLINE void AvgPoolForward(Op& op, int64_t rows) {
  ops::AvgPool2dForward(op.a, op.inPtr, int(rows), op.win);
  op.outPtr = op.a;
}

BN_INLINE float* AvgPoolBackward(Op& op, float* d, float* other, int64_t rows) {
  ops::AvgPool2dBackward(other, d, int(rows), op.win);
  return other;
}

// --- batchNorm -----------------------------------------------------------------------------------
// Training: the batch's statistics, then the running ones move towards them (PyTorch's rule, in
// double as the TypeScript reference: running_var takes the unbiased variance, m/(m-1), m = rows*S;
// the variance itself when m = 1). Inference: the running statistics.

BN_INLINE void BatchNormStepForward(Op& op, int64_t rows, bool training) {
  const int C = int(op.channels);
  op.batchStats = training;
  if (!training) {
    ops::BatchNormForward(op.a, op.inPtr, op.runningMean, op.runningVar, op.w, op.b, int(rows), C, op.spatial, op.eps);
  } else {
    ops::BatchNormStats(op.mean, op.variance, op.inPtr, int(rows), C, op.spatial);
    ops::BatchNormForward(op.a, op.inPtr, op.mean, op.variance, op.w, op.b, int(rows), C, op.spatial, op.eps);
    const double m = double(rows) * double(op.spatial);
    const double unbias = m > 1 ? m / (m - 1) : 1;
    const double mo = op.momentum;
    for (int c = 0; c < C; c++) {
      op.runningMean[c] = float((1 - mo) * double(op.runningMean[c]) + mo * double(op.mean[c]));
      op.runningVar[c] = float((1 - mo) * double(op.runningVar[c]) + mo * double(op.variance[c]) * unbias);
    }
  }
  op.outPtr = op.a;
}

BN_INLINE float* BatchNormStepBackward(Op& op, float* d, int64_t rows) {
  const float* mean = op.batchStats ? op.mean : op.runningMean;
  const float* variance = op.batchStats ? op.variance : op.runningVar;
  ops::BatchNormBackward(op.needDx ? d : nullptr, op.dw, op.db, d, op.inPtr, mean, variance, op.w, int(rows),
                         int(op.channels), op.spatial, op.eps, op.batchStats);
  return d;
}

// --- layerNorm (groups of op.size values; mean and 1/std per group kept for backward) ----------

BN_INLINE void LayerNormStepForward(Op& op, int64_t rows) {
  const int groups = int(rows * (op.out / op.size));
  ops::LayerNormForward(op.a, op.mean, op.variance, op.inPtr, op.w, op.b, groups, op.size, op.eps);
  op.outPtr = op.a;
}

BN_INLINE float* LayerNormStepBackward(Op& op, float* d, int64_t rows) {
  const int groups = int(rows * (op.out / op.size));
  ops::LayerNormBackward(op.needDx ? d : nullptr, op.dw, op.db, d, op.inPtr, op.mean, op.variance, op.w, groups, op.size);
  return d;
}

// --- residual blocks: y = x + f(x) ----------------------------------------------------------------
// residualStart is the identity (its input stays where it is: the end reads it there);
// residualEnd adds it. Backward: the end keeps dy (the gradient around the body) and passes it into
// the body; the start adds the kept dy to what came through the body.

BN_INLINE void ResidualStartForward(Op& op) { op.outPtr = op.inPtr; }

BN_INLINE float* ResidualStartBackward(Op& op, float* d, int64_t rows) {
  ops::Add(d, d, op.kept, rows * op.out);
  return d;
}

BN_INLINE void ResidualEndForward(Op& op, const Workspace& ws, int64_t rows) {
  ops::Add(op.a, op.inPtr, ws.ops[op.partner].inPtr, rows * op.out);
  op.outPtr = op.a;
}

BN_INLINE float* ResidualEndBackward(Op& op, float* d, int64_t rows) {
  std::memcpy(op.kept, d, size_t(rows * op.out) * sizeof(float));
  return d;
}

}  // namespace plan
}  // namespace blasnet
