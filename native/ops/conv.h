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
        if (sH == 1 && sW == 1 && outW == W && ohLo < ohHi && owLo < owHi) {
          // Stride 1 with rows as wide as the input's ("same" padding): the tap's output plane is
          // the input plane shifted by offH*W + offW, so the rows it lands in are one contiguous
          // copy; the copy also wrote the neighbouring row's edge values where a row's ends fall
          // in the padding, which are zeroed after it. (Row by row, the 14-wide rows of T5's
          // second conv cost about 20 cycles each.)
          const int64_t begin = int64_t(ohLo) * W + owLo, end = int64_t(ohHi - 1) * W + owHi;
          const int64_t shift = int64_t(offH) * W + offW;
          for (int n = 0; n < rows; n++) {
            const float* __restrict__ src = x + (int64_t(n) * C + c) * plane + shift + begin;
            float* __restrict__ dst = row + int64_t(n) * outHW;
            for (int64_t k = 0; k < begin; k++) dst[k] = 0.0f;
            for (int64_t k = 0; k < end - begin; k++) dst[begin + k] = src[k];
            for (int64_t k = end; k < outHW; k++) dst[k] = 0.0f;
            for (int oh = ohLo; oh < ohHi; oh++) {
              float* o = dst + int64_t(oh) * W;
              if (oh > ohLo) {
                for (int ow = 0; ow < owLo; ow++) o[ow] = 0.0f;
              }
              if (oh < ohHi - 1) {
                for (int ow = owHi; ow < W; ow++) o[ow] = 0.0f;
              }
            }
          }
          continue;
        }
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

// Col2im's contiguous path saves the edge pixels a tap's add must not touch: up to this many per
// sample and tap (27 for a 28-row image with one column of padding each side).
constexpr int kCol2imSaved = 256;

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
        const int edge = W - (owHi - owLo);  // outputs in the padding between two landing rows
        if (sH == 1 && sW == 1 && outW == W && ohLo < ohHi && owLo < owHi &&
            int64_t(ohHi - ohLo - 1) * edge <= kCol2imSaved) {
          // As in Im2col: one contiguous add over the rows the tap lands in. Where a row's ends
          // fall in the padding, that add also puts padding entries onto the neighbouring row's
          // edge pixels; those pixels are saved before and put back after (exact: a tap reads
          // each input position at most once).
          const int64_t begin = int64_t(ohLo) * W + owLo, end = int64_t(ohHi - 1) * W + owHi;
          const int64_t shift = int64_t(offH) * W + offW;
          for (int n = 0; n < rows; n++) {
            float* __restrict__ to = dx + (int64_t(n) * C + c) * plane + shift + begin;
            const float* __restrict__ from = row + int64_t(n) * outHW + begin;
            float saved[kCol2imSaved];
            int m = 0;
            for (int oh = ohLo + 1; oh < ohHi; oh++) {
              const int64_t at = int64_t(oh - 1) * W + owHi - begin;
              for (int e = 0; e < edge; e++) saved[m++] = to[at + e];
            }
            for (int64_t k = 0; k < end - begin; k++) to[k] += from[k];
            m = 0;
            for (int oh = ohLo + 1; oh < ohHi; oh++) {
              const int64_t at = int64_t(oh - 1) * W + owHi - begin;
              for (int e = 0; e < edge; e++) to[at + e] = saved[m++];
            }
          }
          continue;
        }
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
