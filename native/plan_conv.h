// The fused plan's conv2d step's forward and backward passes (the rest of the step, and ConvChunk,
// is its step file, steps/conv2d.h, whose Forward and Backward call these). The math is ops/conv.h
// (one definition, shared with the per-kernel entry points); these functions arrange it for the
// step loop. Inlined into plan_steps.cc, so compiled per ISA with it.
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
#include "plan_activations.h"
#include "plan_isa.h"
#include "plan_workspace.h"

namespace blasnet {
namespace plan {

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

}  // namespace plan
}  // namespace blasnet
