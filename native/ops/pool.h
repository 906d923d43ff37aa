// 2-D max and average pooling, one definition: the per-kernel entry points (kernels.cc) and the
// fused plan call these. Semantics: `Kernels` in lib/backend/backend.ts (PyTorch's MaxPool2d and
// AvgPool2d with count_include_pad=True); the TypeScript twin is lib/backend/ts/pool.ts.
//
// x and dx are (rows, C, H, W), y, dy and argmax (rows, C, outH, outW); rows*C planes are pooled
// one after another. Each window visits only its taps inside the input (the ranges are computed
// per output, no test per tap). Plain C++ (no N-API, no threads), always inlined into each
// caller's per-ISA clone.
#pragma once
#include <cstdint>
#include <limits>

#include "window.h"

namespace blasnet {
namespace ops {

// y = the largest x of each window (padding never wins); argmax = h*W + w of the first largest
// within its channel plane, taps in row-major order. NaN wins (propagates, as PyTorch): the first
// NaN of a window. A window with no tap inside the input gives -inf and argmax -1.
BN_OP_INLINE void MaxPool2dForward(float* y, int32_t* argmax, const float* x, int rows, const Window2d& g) {
  const int H = g.height, W = g.width, outH = g.outH, outW = g.outW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t planes = int64_t(rows) * g.channels;
  for (int64_t p = 0; p < planes; p++) {
    const float* xp = x + p * plane;
    float* yp = y + p * outHW;
    int32_t* ap = argmax + p * outHW;
    for (int oh = 0; oh < outH; oh++) {
      const int64_t h0 = int64_t(oh) * g.strideH - g.padTop;
      int iLo, iHi;
      WindowTaps(H, g.kernelH, g.dilationH, h0, &iLo, &iHi);
      for (int ow = 0; ow < outW; ow++) {
        const int64_t w0 = int64_t(ow) * g.strideW - g.padLeft;
        int jLo, jHi;
        WindowTaps(W, g.kernelW, g.dilationW, w0, &jLo, &jHi);
        float best = -std::numeric_limits<float>::infinity();
        int32_t at = -1;
        for (int i = iLo; i < iHi; i++) {
          const int64_t h = h0 + int64_t(i) * g.dilationH;
          const float* xr = xp + h * W;
          for (int j = jLo; j < jHi; j++) {
            const int64_t w = w0 + int64_t(j) * g.dilationW;
            const float v = xr[w];
            // The first tap, then strictly larger, then the first NaN (v > NaN is false).
            if (at < 0 || v > best || (v != v && best == best)) {
              best = v;
              at = int32_t(h * W + w);
            }
          }
        }
        yp[int64_t(oh) * outW + ow] = best;
        ap[int64_t(oh) * outW + ow] = at;
      }
    }
  }
}

// dx = 0, then dx[n, c, argmax] += dy[n, c, oh, ow]; argmax -1 is skipped. Overwrites dx. Trusts
// argmax to hold -1 or indices in [0, H*W) (MaxPool2dForward's; the binding checks a caller's).
BN_OP_INLINE void MaxPool2dBackward(float* dx, const float* dy, const int32_t* argmax, int rows, const Window2d& g) {
  const int64_t plane = int64_t(g.height) * g.width;
  const int64_t outHW = int64_t(g.outH) * g.outW;
  const int64_t planes = int64_t(rows) * g.channels;
  for (int64_t k = 0; k < planes * plane; k++) dx[k] = 0.0f;
  for (int64_t p = 0; p < planes; p++) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * outHW;
    const int32_t* ap = argmax + p * outHW;
    for (int64_t o = 0; o < outHW; o++) {
      if (ap[o] >= 0) dxp[ap[o]] += dyp[o];
    }
  }
}

// y = the sum of each window's taps inside the input divided by kH*kW (padding counts as zeros).
BN_OP_INLINE void AvgPool2dForward(float* y, const float* x, int rows, const Window2d& g) {
  const int H = g.height, W = g.width, outH = g.outH, outW = g.outW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t planes = int64_t(rows) * g.channels;
  const float inv = float(1.0 / (double(g.kernelH) * g.kernelW));
  for (int64_t p = 0; p < planes; p++) {
    const float* xp = x + p * plane;
    float* yp = y + p * outHW;
    for (int oh = 0; oh < outH; oh++) {
      const int64_t h0 = int64_t(oh) * g.strideH - g.padTop;
      int iLo, iHi;
      WindowTaps(H, g.kernelH, g.dilationH, h0, &iLo, &iHi);
      for (int ow = 0; ow < outW; ow++) {
        const int64_t w0 = int64_t(ow) * g.strideW - g.padLeft;
        int jLo, jHi;
        WindowTaps(W, g.kernelW, g.dilationW, w0, &jLo, &jHi);
        float s = 0.0f;
        for (int i = iLo; i < iHi; i++) {
          const float* xr = xp + (h0 + int64_t(i) * g.dilationH) * W + w0;
          for (int j = jLo; j < jHi; j++) s += xr[int64_t(j) * g.dilationW];
        }
        yp[int64_t(oh) * outW + ow] = s * inv;
      }
    }
  }
}

// The adjoint of AvgPool2dForward: each tap inside the input gets dy / (kH*kW). Overwrites dx.
BN_OP_INLINE void AvgPool2dBackward(float* dx, const float* dy, int rows, const Window2d& g) {
  const int H = g.height, W = g.width, outH = g.outH, outW = g.outW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t planes = int64_t(rows) * g.channels;
  const float inv = float(1.0 / (double(g.kernelH) * g.kernelW));
  for (int64_t k = 0; k < planes * plane; k++) dx[k] = 0.0f;
  for (int64_t p = 0; p < planes; p++) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * outHW;
    for (int oh = 0; oh < outH; oh++) {
      const int64_t h0 = int64_t(oh) * g.strideH - g.padTop;
      int iLo, iHi;
      WindowTaps(H, g.kernelH, g.dilationH, h0, &iLo, &iHi);
      for (int ow = 0; ow < outW; ow++) {
        const int64_t w0 = int64_t(ow) * g.strideW - g.padLeft;
        int jLo, jHi;
        WindowTaps(W, g.kernelW, g.dilationW, w0, &jLo, &jHi);
        const float d = dyp[int64_t(oh) * outW + ow] * inv;
        for (int i = iLo; i < iHi; i++) {
          float* xr = dxp + (h0 + int64_t(i) * g.dilationH) * W + w0;
          for (int j = jLo; j < jHi; j++) xr[int64_t(j) * g.dilationW] += d;
        }
      }
    }
  }
}

}  // namespace ops
}  // namespace blasnet
