// The geometry of a 2-D window (a convolution kernel or a pooling window), the C++ twin of
// lib/ops/window.ts, shared by ops/conv.h and ops/pool.h. Output (oh, ow), tap (i, j) reads the
// input at h = oh*strideH - padTop + i*dilationH, w = ow*strideW - padLeft + j*dilationW; positions
// outside [0,H)x[0,W) are padding. NCHW, float32, a sample contiguous.
//
// Plain C++ (no N-API). The functions trust the geometry (the binding checks it: WindowProblem).
#pragma once
#include <cstdint>

#ifndef BN_OP_INLINE
#define BN_OP_INLINE inline __attribute__((always_inline))
#endif

namespace blasnet {
namespace ops {

struct Window2d {
  int channels = 0, height = 0, width = 0;  // the input sample (C, H, W)
  int kernelH = 0, kernelW = 0;
  int strideH = 1, strideW = 1;
  int padTop = 0, padLeft = 0;  // padding before the first row / column
  int dilationH = 1, dilationW = 1;
  int outH = 0, outW = 0;  // output size; bottom/right padding is what these imply
};

// The outputs o in [*lo, *hi) of one axis whose tap lands inside the input:
// 0 <= o*stride + offset < size, where offset = tap*dilation - pad. Empty (lo >= hi) if none.
BN_OP_INLINE void TapRange(int size, int stride, int offset, int out, int* lo, int* hi) {
  const int64_t a = offset >= 0 ? 0 : (int64_t(-offset) + stride - 1) / stride;
  const int64_t b = int64_t(size) - 1 - offset < 0 ? 0 : (int64_t(size) - 1 - offset) / stride + 1;
  *lo = int(a < out ? a : out);
  *hi = int(b < out ? b : out);
}

// The taps t in [*lo, *hi) of one axis that land inside the input for the window starting at
// `start` (= o*stride - pad): 0 <= start + t*dilation < size, t < kernel.
BN_OP_INLINE void WindowTaps(int size, int kernel, int dilation, int64_t start, int* lo, int* hi) {
  if (dilation == 1) {
    // The common case, without the divisions (called once per output, they would dominate pooling).
    const int64_t a = start >= 0 ? 0 : -start;
    const int64_t b = int64_t(size) - start;
    *lo = int(a < kernel ? a : kernel);
    *hi = int(b < 0 ? 0 : b < kernel ? b : kernel);
    return;
  }
  const int64_t a = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  const int64_t b = int64_t(size) - 1 - start < 0 ? 0 : (int64_t(size) - 1 - start) / dilation + 1;
  *lo = int(a < kernel ? a : kernel);
  *hi = int(b < kernel ? b : kernel);
}

// The range of output sizes one axis may claim: PyTorch's floor((size + pad + padEnd - reach - 1)
// / stride) + 1 for an end padding padEnd in [0, max(pad, reach)], reach = dilation*(kernel-1)
// (symmetric and "same" padding both fit). Every value in [*lo, *hi] occurs.
BN_OP_INLINE void OutputSizeRange(int64_t size, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                  int64_t* lo, int64_t* hi) {
  const int64_t reach = dilation * (kernel - 1);
  const int64_t max_end = pad > reach ? pad : reach;
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  *lo = floor_div(size + pad - reach - 1, stride) + 1;
  *hi = floor_div(size + pad + max_end - reach - 1, stride) + 1;
}

}  // namespace ops
}  // namespace blasnet
