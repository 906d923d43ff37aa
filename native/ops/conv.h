// Convolution as im2col + GEMM, one definition: the per-kernel entry points (kernels.cc: im2col,
// col2im, swapAxes01, channelBiasAdd, channelBiasGrad, add) and the fused plan call these.
// Semantics: `Kernels` in lib/backend/backend.ts; the TypeScript twin is lib/backend/ts/conv.ts.
//
// Im2col / Col2im work on any run of samples: `ld` is the row length of the cols matrix, so a chunk
// of samples n0..n0+rows can be unrolled into its own (K, rows*outH*outW) buffer (ld = rows*outH*outW)
// or into columns n0*outH*outW.. of a whole-batch matrix (cols + n0*outH*outW, ld = batch*outH*outW).
//
// Plain C++ (no N-API, no threads), always inlined into each caller's per-ISA clone. The inner
// loops run over contiguous memory (a row of the output plane) and vectorize.
#pragma once
#include <cstdint>

#include "window.h"

namespace blasnet {
namespace ops {

// x is (rows, C, H, W); cols is (C*kH*kW, ld) with ld >= rows*outH*outW:
// cols[(c*kH + i)*kW + j][n*outH*outW + oh*outW + ow] = x[n, c, h, w] (0 in the padding).
// Columns at and past rows*outH*outW are not touched.
BN_OP_INLINE void Im2col(float* __restrict__ cols, int64_t ld, const float* __restrict__ x, int rows,
                         const Window2d& g) {
  const int C = g.channels, H = g.height, W = g.width, kH = g.kernelH, kW = g.kernelW;
  const int outH = g.outH, outW = g.outW, sH = g.strideH, sW = g.strideW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  for (int c = 0; c < C; c++) {
    for (int i = 0; i < kH; i++) {
      const int offH = i * g.dilationH - g.padTop;
      int ohLo, ohHi;
      TapRange(H, sH, offH, outH, &ohLo, &ohHi);
      for (int j = 0; j < kW; j++) {
        const int offW = j * g.dilationW - g.padLeft;
        int owLo, owHi;
        TapRange(W, sW, offW, outW, &owLo, &owHi);
        if (owHi < owLo) owHi = owLo;
        float* row = cols + (int64_t(c * kH + i) * kW + j) * ld;
        for (int n = 0; n < rows; n++) {
          const float* src = x + (int64_t(n) * C + c) * plane;
          float* dst = row + int64_t(n) * outHW;
          for (int oh = 0; oh < outH; oh++) {
            float* o = dst + int64_t(oh) * outW;
            if (oh < ohLo || oh >= ohHi) {
              for (int ow = 0; ow < outW; ow++) o[ow] = 0.0f;
              continue;
            }
            const float* xr = src + int64_t(oh * sH + offH) * W + offW;
            for (int ow = 0; ow < owLo; ow++) o[ow] = 0.0f;
            if (sW == 1) {
              // A plain loop, not memcpy: rows are short (a 14-wide plane), a library call per row
              // cost more than the copy (measured: 1.1 ms vs 0.5 ms for a (64, 32, 14, 14) 3x3 im2col).
              for (int ow = owLo; ow < owHi; ow++) o[ow] = xr[ow];
            } else {
              for (int ow = owLo; ow < owHi; ow++) o[ow] = xr[int64_t(ow) * sW];
            }
            for (int ow = owHi; ow < outW; ow++) o[ow] = 0.0f;
          }
        }
      }
    }
  }
}

// The adjoint of Im2col: cols is (C*kH*kW, ld), dx is (rows, C, H, W); each input position gets the
// sum of the cols entries Im2col copies from it. Overwrites dx.
BN_OP_INLINE void Col2im(float* __restrict__ dx, const float* __restrict__ cols, int64_t ld, int rows,
                         const Window2d& g) {
  const int C = g.channels, H = g.height, W = g.width, kH = g.kernelH, kW = g.kernelW;
  const int outH = g.outH, outW = g.outW, sH = g.strideH, sW = g.strideW;
  const int64_t plane = int64_t(H) * W;
  const int64_t outHW = int64_t(outH) * outW;
  const int64_t total = int64_t(rows) * C * plane;
  for (int64_t k = 0; k < total; k++) dx[k] = 0.0f;
  for (int c = 0; c < C; c++) {
    for (int i = 0; i < kH; i++) {
      const int offH = i * g.dilationH - g.padTop;
      int ohLo, ohHi;
      TapRange(H, sH, offH, outH, &ohLo, &ohHi);
      for (int j = 0; j < kW; j++) {
        const int offW = j * g.dilationW - g.padLeft;
        int owLo, owHi;
        TapRange(W, sW, offW, outW, &owLo, &owHi);
        const float* row = cols + (int64_t(c * kH + i) * kW + j) * ld;
        for (int n = 0; n < rows; n++) {
          float* dst = dx + (int64_t(n) * C + c) * plane;
          const float* src = row + int64_t(n) * outHW;
          for (int oh = ohLo; oh < ohHi; oh++) {
            const float* o = src + int64_t(oh) * outW;
            float* xr = dst + int64_t(oh * sH + offH) * W + offW;
            if (sW == 1) {
              for (int ow = owLo; ow < owHi; ow++) xr[ow] += o[ow];
            } else {
              for (int ow = owLo; ow < owHi; ow++) xr[int64_t(ow) * sW] += o[ow];
            }
          }
        }
      }
    }
  }
}

// x is (a, b, c), out is (b, a, c): out[j][i][k] = x[i][j][k]. out must not overlap x.
BN_OP_INLINE void SwapAxes01(float* __restrict__ out, const float* __restrict__ x, int64_t a, int64_t b, int64_t c) {
  for (int64_t i = 0; i < a; i++) {
    for (int64_t j = 0; j < b; j++) {
      const float* src = x + (i * b + j) * c;
      float* dst = out + (j * a + i) * c;
      for (int64_t k = 0; k < c; k++) dst[k] = src[k];
    }
  }
}

// y is (rows, C, S), bias is (C): y[n, c, s] += bias[c].
BN_OP_INLINE void ChannelBiasAdd(float* y, const float* bias, int rows, int channels, int64_t spatial) {
  for (int n = 0; n < rows; n++) {
    for (int c = 0; c < channels; c++) {
      float* yc = y + (int64_t(n) * channels + c) * spatial;
      const float b = bias[c];
      for (int64_t s = 0; s < spatial; s++) yc[s] += b;
    }
  }
}

// Sum of x (n) in double.
BN_OP_INLINE double SumDouble(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += double(x[i]);
  return s;
}

// dy is (rows, C, S), db is (C): db[c] = sum over n and s of dy[n, c, s], in double. Overwrites db.
BN_OP_INLINE void ChannelBiasGrad(float* db, const float* dy, int rows, int channels, int64_t spatial) {
  for (int c = 0; c < channels; c++) {
    double s = 0.0;
    for (int n = 0; n < rows; n++) s += SumDouble(dy + (int64_t(n) * channels + c) * spatial, spatial);
    db[c] = float(s);
  }
}

// out (n) = a (n) + b (n); out may equal a or b.
BN_OP_INLINE void Add(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

}  // namespace ops
}  // namespace blasnet
