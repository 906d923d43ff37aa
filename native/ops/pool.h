// 2-D max and average pooling, one definition: the per-kernel entry points (kernels.cc) and the
// fused plan call these. Semantics: `Kernels` in lib/backend/backend.ts (PyTorch's MaxPool2d and
// AvgPool2d with count_include_pad=True); the TypeScript twin is lib/backend/ts/pool.ts.
//
// x and dx are (rows, C, H, W), y, dy and argmax (rows, C, outH, outW); rows*C planes are pooled
// one after another. Each tap visits only the outputs for which it lands inside the input (ranges
// computed per tap, no test per element). Plain C++ (no N-API, no threads), always inlined into each
// caller's per-ISA clone.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include "window.h"

namespace blasnet {
namespace ops {

namespace pool_detail {

// Outputs are processed a run of up to kRun of one output row at a time, the taps in the outer
// loops and the outputs in the inner one: each tap's update of the run is branch-free (selects)
// and runs over consecutive outputs, so it vectorizes for stride 1 and never mispredicts on data.
constexpr int kRun = 256;

// The outputs [lo, hi) of a row whose column tap j lands inside the input, for every j: computed
// once per call (TapRange divides; once per row and tap it would cost more than the pooling) for
// up to kCached taps, on the fly beyond (wide windows such as global pooling, with few outputs).
constexpr int kCached = 64;
struct ColumnTaps {
  int lo[kCached], hi[kCached];
  explicit ColumnTaps(const Window2d& g) {
    for (int j = 0; j < g.kernelW && j < kCached; j++) {
      TapRange(g.width, g.strideW, j * g.dilationW - g.padLeft, g.outW, &lo[j], &hi[j]);
    }
  }
  // The outputs [*a, *b) of [ow0, ow0 + n) whose tap j lands inside the input.
  BN_OP_INLINE void Run(const Window2d& g, int j, int ow0, int n, int* a, int* b) const {
    int l, h;
    if (j < kCached) {
      l = lo[j];
      h = hi[j];
    } else {
      TapRange(g.width, g.strideW, j * g.dilationW - g.padLeft, g.outW, &l, &h);
    }
    *a = l > ow0 ? l : ow0;
    *b = h < ow0 + n ? h : ow0 + n;
  }
};

// Generic max pooling of the outputs [owBegin, owEnd) of one output row (window rows from h0):
// any kernel, padding and dilation, the taps inside the input only.
BN_OP_INLINE void MaxWindows(float* yr, int32_t* ar, const float* xp, const Window2d& g, int64_t h0, int owBegin,
                             int owEnd) {
  int iLo, iHi;
  WindowTaps(g.height, g.kernelH, g.dilationH, h0, &iLo, &iHi);
  for (int ow = owBegin; ow < owEnd; ow++) {
    const int64_t w0 = int64_t(ow) * g.strideW - g.padLeft;
    int jLo, jHi;
    WindowTaps(g.width, g.kernelW, g.dilationW, w0, &jLo, &jHi);
    float best = -std::numeric_limits<float>::infinity();
    int32_t at = -1;
    for (int i = iLo; i < iHi; i++) {
      const int64_t h = h0 + int64_t(i) * g.dilationH;
      for (int j = jLo; j < jHi; j++) {
        const int64_t w = w0 + int64_t(j) * g.dilationW;
        const float v = xp[h * g.width + w];
        // The first tap, then strictly larger, then the first NaN (v > NaN is false).
        if (at < 0 || v > best || (v != v && best == best)) {
          best = v;
          at = int32_t(h * g.width + w);
        }
      }
    }
    yr[ow] = best;
    ar[ow] = at;
  }
}

// Max pooling of the outputs [owA, owB) of one output row whose K x K windows (dilation 1) lie
// inside the input. Straight-line and branch-free per window (a branch on random data would
// mispredict half the time): the maximum with max (NaN aside), then the first tap equal to it by
// selects from the last tap back; the rare window holding a NaN is handled apart (its first NaN).
template <int K>
BN_OP_INLINE void MaxFixed(float* yr, int32_t* ar, const float* xp, int W, int64_t h0, int stride, int pad, int owA,
                           int owB) {
  for (int ow = owA; ow < owB; ow++) {
    const int64_t w0 = int64_t(ow) * stride - pad;
    const float* xw = xp + h0 * W + w0;
    float v[K * K];
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++) v[i * K + j] = xw[int64_t(i) * W + j];
    float m = v[0];
    bool nan = v[0] != v[0];
    for (int t = 1; t < K * K; t++) {
      m = std::max(m, v[t]);  // maxss: keeps m when v[t] is NaN
      nan |= v[t] != v[t];
    }
    int t_at = 0;
    for (int t = K * K - 1; t >= 0; t--) {
      const int eq = v[t] == m;  // as a mask, not a ?: (which GCC may turn back into a branch)
      t_at ^= (t_at ^ t) & -eq;
    }
    if (__builtin_expect(nan, 0)) {
      t_at = 0;
      while (v[t_at] == v[t_at]) t_at++;
    }
    yr[ow] = v[t_at];  // the tap's own value: +0 or -0 as the first of equal zeros, that NaN's bits
    ar[ow] = int32_t((h0 + t_at / K) * W + w0 + t_at % K);
  }
}

// Max pooling of the outputs [owA, owB) of one output row for 2x2 windows with stride 2 (dilation
// 1) that lie inside the input: MaxFixed<2>'s choice (the first largest tap in row-major order)
// made tap by tap with selects, so the loop over outputs vectorizes (MaxFixed's per-window loops do
// not). NaN is left to MaxFixed<2>: a row holding one is pooled again by it (its first NaN wins).
BN_OP_INLINE void Max2x2Stride2(float* __restrict__ yr, int32_t* __restrict__ ar, const float* xp, int W, int64_t h0,
                                int pad, int owA, int owB) {
  const float* __restrict__ r0 = xp + h0 * W - pad;
  const float* __restrict__ r1 = r0 + W;
  const int32_t base = int32_t(h0 * W - pad);
  int nan = 0;
  for (int ow = owA; ow < owB; ow++) {
    const float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
    float m = v0;
    int32_t t = 0;
    t = v1 > m ? 1 : t;
    m = v1 > m ? v1 : m;
    t = v2 > m ? W : t;
    m = v2 > m ? v2 : m;
    t = v3 > m ? W + 1 : t;
    m = v3 > m ? v3 : m;
    nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
    yr[ow] = m;
    ar[ow] = base + 2 * ow + t;
  }
  if (nan) MaxFixed<2>(yr, ar, xp, W, h0, 2, pad, owA, owB);
}

}  // namespace pool_detail

// y = the largest x of each window (padding never wins); argmax = h*W + w of the first largest
// within its channel plane, taps in row-major order. NaN wins (propagates, as PyTorch): the first
// NaN of a window. A window with no tap inside the input gives -inf and argmax -1.
BN_OP_INLINE void MaxPool2dForward(float* y, int32_t* argmax, const float* x, int rows, const Window2d& g) {
  const int H = g.height, W = g.width, outH = g.outH, outW = g.outW, kH = g.kernelH, kW = g.kernelW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t planes = int64_t(rows) * g.channels;
  // The outputs [owA, owB) whose windows lie inside the input's columns (dilation 1), for the
  // fixed-size 2x2 and 3x3 paths; the others (edges, other windows) take the generic path.
  const bool fixed = g.dilationH == 1 && g.dilationW == 1 && kH == kW && (kH == 2 || kH == 3);
  int owA = outW, owB = outW;
  if (fixed) {
    owA = (g.padLeft + g.strideW - 1) / g.strideW;
    const int64_t last = (int64_t(W) - kW + g.padLeft) / g.strideW + 1;  // W >= kW here or owA >= owB
    owB = int(W >= kW ? (last < outW ? last : outW) : 0);
    if (owA > outW) owA = outW;
    if (owB < owA) owB = owA;
  }
  for (int64_t p = 0; p < planes; p++) {
    const float* xp = x + p * plane;
    float* yp = y + p * outHW;
    int32_t* ap = argmax + p * outHW;
    for (int oh = 0; oh < outH; oh++) {
      const int64_t h0 = int64_t(oh) * g.strideH - g.padTop;
      float* yr = yp + int64_t(oh) * outW;
      int32_t* ar = ap + int64_t(oh) * outW;
      const bool rows_inside = h0 >= 0 && h0 + kH <= H;
      if (fixed && rows_inside) {
        pool_detail::MaxWindows(yr, ar, xp, g, h0, 0, owA);
        if (kH == 2 && g.strideW == 2) {
          pool_detail::Max2x2Stride2(yr, ar, xp, W, h0, g.padLeft, owA, owB);
        } else if (kH == 2) {
          pool_detail::MaxFixed<2>(yr, ar, xp, W, h0, g.strideW, g.padLeft, owA, owB);
        } else {
          pool_detail::MaxFixed<3>(yr, ar, xp, W, h0, g.strideW, g.padLeft, owA, owB);
        }
        pool_detail::MaxWindows(yr, ar, xp, g, h0, owB, outW);
      } else {
        pool_detail::MaxWindows(yr, ar, xp, g, h0, 0, outW);
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
  using pool_detail::kRun;
  const int H = g.height, W = g.width, outH = g.outH, outW = g.outW, sW = g.strideW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t planes = int64_t(rows) * g.channels;
  const float inv = float(1.0 / (double(g.kernelH) * g.kernelW));
  const pool_detail::ColumnTaps taps(g);
  float sum[kRun];
  for (int64_t p = 0; p < planes; p++) {
    const float* xp = x + p * plane;
    for (int oh = 0; oh < outH; oh++) {
      const int64_t h0 = int64_t(oh) * g.strideH - g.padTop;
      int iLo, iHi;
      WindowTaps(H, g.kernelH, g.dilationH, h0, &iLo, &iHi);
      for (int ow0 = 0; ow0 < outW; ow0 += kRun) {
        const int n = outW - ow0 < kRun ? outW - ow0 : kRun;
        for (int k = 0; k < n; k++) sum[k] = 0.0f;
        float* sk = sum - ow0;
        for (int i = iLo; i < iHi; i++) {
          const int64_t h = h0 + int64_t(i) * g.dilationH;
          for (int j = 0; j < g.kernelW; j++) {
            int lo, hi;
            taps.Run(g, j, ow0, n, &lo, &hi);
            const float* xr = xp + h * W + (j * g.dilationW - g.padLeft);
            for (int ow = lo; ow < hi; ow++) sk[ow] += xr[int64_t(ow) * sW];
          }
        }
        float* yr = y + p * outHW + int64_t(oh) * outW + ow0;
        for (int k = 0; k < n; k++) yr[k] = sum[k] * inv;
      }
    }
  }
}

// The adjoint of AvgPool2dForward: each tap inside the input gets dy / (kH*kW). Overwrites dx.
BN_OP_INLINE void AvgPool2dBackward(float* dx, const float* dy, int rows, const Window2d& g) {
  using pool_detail::kRun;
  const int H = g.height, W = g.width, outH = g.outH, outW = g.outW, sW = g.strideW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t planes = int64_t(rows) * g.channels;
  const float inv = float(1.0 / (double(g.kernelH) * g.kernelW));
  for (int64_t k = 0; k < planes * plane; k++) dx[k] = 0.0f;
  const pool_detail::ColumnTaps taps(g);
  float d[kRun];
  for (int64_t p = 0; p < planes; p++) {
    float* dxp = dx + p * plane;
    for (int oh = 0; oh < outH; oh++) {
      const int64_t h0 = int64_t(oh) * g.strideH - g.padTop;
      int iLo, iHi;
      WindowTaps(H, g.kernelH, g.dilationH, h0, &iLo, &iHi);
      for (int ow0 = 0; ow0 < outW; ow0 += kRun) {
        const int n = outW - ow0 < kRun ? outW - ow0 : kRun;
        const float* dyr = dy + p * outHW + int64_t(oh) * outW + ow0;
        for (int k = 0; k < n; k++) d[k] = dyr[k] * inv;
        const float* dk = d - ow0;
        for (int i = iLo; i < iHi; i++) {
          const int64_t h = h0 + int64_t(i) * g.dilationH;
          for (int j = 0; j < g.kernelW; j++) {
            int lo, hi;
            taps.Run(g, j, ow0, n, &lo, &hi);
            float* xr = dxp + h * W + (j * g.dilationW - g.padLeft);
            // Outputs of one tap hit distinct columns (stride >= 1), so this loop carries no dependence.
            for (int ow = lo; ow < hi; ow++) xr[int64_t(ow) * sW] += dk[ow];
          }
        }
      }
    }
  }
}

}  // namespace ops
}  // namespace blasnet
