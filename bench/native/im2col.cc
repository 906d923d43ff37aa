// im2col and col2im (native/ops/conv.h) against plain loops that test every element for padding,
// on the convolutions of the Fashion-MNIST CNN (T5) and two other shapes; whole batches and
// chunks of samples. Results are checked (bit for bit) before anything is timed; each time is the
// fastest of 15 runs. A standalone program (no N-API, no OpenBLAS), built with the addon's flags:
//
//   g++ -std=c++17 -O3 -fopenmp-simd -fno-math-errno -fno-trapping-math -march=native -Inative bench/native/im2col.cc -o im2col-bench && ./im2col-bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "ops/conv.h"

using blasnet::ops::Window2d;

namespace {

// The definition, one element at a time.
__attribute__((noinline)) void PlainIm2col(float* cols, const float* x, int rows, const Window2d& g) {
  const int64_t N = int64_t(rows) * g.outH * g.outW;
  for (int c = 0; c < g.channels; c++)
    for (int i = 0; i < g.kernelH; i++)
      for (int j = 0; j < g.kernelW; j++) {
        float* row = cols + (int64_t(c * g.kernelH + i) * g.kernelW + j) * N;
        for (int n = 0; n < rows; n++)
          for (int oh = 0; oh < g.outH; oh++)
            for (int ow = 0; ow < g.outW; ow++) {
              const int h = oh * g.strideH - g.padTop + i * g.dilationH;
              const int w = ow * g.strideW - g.padLeft + j * g.dilationW;
              const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
              row[(int64_t(n) * g.outH + oh) * g.outW + ow] =
                  inside ? x[((int64_t(n) * g.channels + c) * g.height + h) * g.width + w] : 0.0f;
            }
      }
}

__attribute__((noinline)) void PlainCol2im(float* dx, const float* cols, int rows, const Window2d& g) {
  const int64_t N = int64_t(rows) * g.outH * g.outW;
  std::fill(dx, dx + int64_t(rows) * g.channels * g.height * g.width, 0.0f);
  for (int c = 0; c < g.channels; c++)
    for (int i = 0; i < g.kernelH; i++)
      for (int j = 0; j < g.kernelW; j++) {
        const float* row = cols + (int64_t(c * g.kernelH + i) * g.kernelW + j) * N;
        for (int n = 0; n < rows; n++)
          for (int oh = 0; oh < g.outH; oh++)
            for (int ow = 0; ow < g.outW; ow++) {
              const int h = oh * g.strideH - g.padTop + i * g.dilationH;
              const int w = ow * g.strideW - g.padLeft + j * g.dilationW;
              if (h >= 0 && h < g.height && w >= 0 && w < g.width) {
                dx[((int64_t(n) * g.channels + c) * g.height + h) * g.width + w] +=
                    row[(int64_t(n) * g.outH + oh) * g.outW + ow];
              }
            }
      }
}

// ops::Im2col / Col2im over the batch in chunks of `chunk` samples (each into its own cols).
__attribute__((noinline)) void OpsIm2col(float* cols, const float* x, int rows, int chunk, const Window2d& g) {
  const int64_t per = int64_t(g.channels) * g.height * g.width;
  for (int n0 = 0; n0 < rows; n0 += chunk) {
    const int r = std::min(chunk, rows - n0);
    blasnet::ops::Im2col(cols, int64_t(r) * g.outH * g.outW, x + n0 * per, r, g);
  }
}

__attribute__((noinline)) void OpsCol2im(float* dx, const float* cols, int rows, int chunk, const Window2d& g) {
  const int64_t per = int64_t(g.channels) * g.height * g.width;
  for (int n0 = 0; n0 < rows; n0 += chunk) {
    const int r = std::min(chunk, rows - n0);
    blasnet::ops::Col2im(dx + n0 * per, cols, int64_t(r) * g.outH * g.outW, r, g);
  }
}

template <typename F>
double FastestMs(F f) {
  double best = 1e30;
  for (int r = 0; r < 15; r++) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

Window2d Square(int C, int H, int k, int stride, int pad) {
  Window2d g;
  g.channels = C;
  g.height = g.width = H;
  g.kernelH = g.kernelW = k;
  g.strideH = g.strideW = stride;
  g.padTop = g.padLeft = pad;
  g.outH = g.outW = (H + 2 * pad - k) / stride + 1;
  return g;
}

}  // namespace

int main() {
  struct Case {
    const char* name;
    int rows;
    Window2d g;
  };
  const Case cases[] = {
      {"T5 conv1 (64,1,28,28) 3x3 pad 1", 64, Square(1, 28, 3, 1, 1)},
      {"T5 conv2 (64,32,14,14) 3x3 pad 1", 64, Square(32, 14, 3, 1, 1)},
      {"(64,16,32,32) 3x3 stride 2 pad 1", 64, Square(16, 32, 3, 2, 1)},
      {"(64,64,8,8) 1x1", 64, Square(64, 8, 1, 1, 0)},
  };
  std::printf("%-34s %6s %9s | %-28s | %-28s\n", "workload (rows,C,H,W)", "chunk", "cols MB", "im2col ms: ops / plain", "col2im ms: ops / plain");
  for (const Case& c : cases) {
    const Window2d& g = c.g;
    const int64_t in = int64_t(c.rows) * g.channels * g.height * g.width;
    const int64_t count = int64_t(g.channels) * g.kernelH * g.kernelW * c.rows * g.outH * g.outW;
    std::vector<float> x(in), cols(count), want(count), grad(count), dx(in), dx_want(in);
    for (int64_t k = 0; k < in; k++) x[k] = float(std::sin(0.37 * double(k)));
    for (int64_t k = 0; k < count; k++) grad[k] = float(std::cos(0.11 * double(k)));
    PlainIm2col(want.data(), x.data(), c.rows, g);
    OpsIm2col(cols.data(), x.data(), c.rows, c.rows, g);
    PlainCol2im(dx_want.data(), grad.data(), c.rows, g);
    OpsCol2im(dx.data(), grad.data(), c.rows, c.rows, g);
    if (cols != want || dx != dx_want) {
      std::printf("%s: ops/conv.h and the plain loops disagree\n", c.name);
      return 1;
    }
    const double plain_i = FastestMs([&] { PlainIm2col(cols.data(), x.data(), c.rows, g); });
    const double plain_c = FastestMs([&] { PlainCol2im(dx.data(), grad.data(), c.rows, g); });
    for (int chunk : {c.rows, 8}) {
      const double ops_i = FastestMs([&] { OpsIm2col(cols.data(), x.data(), c.rows, chunk, g); });
      const double ops_c = FastestMs([&] { OpsCol2im(dx.data(), grad.data(), c.rows, chunk, g); });
      const double mb = double(count) / c.rows * chunk * 4 / 1e6;
      std::printf("%-34s %6d %9.2f | %7.3f / %7.3f (x%5.2f) | %7.3f / %7.3f (x%5.2f)\n", c.name, chunk, mb, ops_i,
                  plain_i, plain_i / ops_i, ops_c, plain_c, plain_c / ops_c);
    }
  }
  return 0;
}
