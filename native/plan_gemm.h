// The fused plan's GEMMs: OpenBLAS, except tiny shapes where plain loops win (measured below).
// Inlined into the step loop (plan_steps.cc), so compiled per ISA with it.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <cstring>

#include "plan_isa.h"

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
// 512 and 1000). On the lecture network (1 -> 3 sigmoid -> 1, batch 10) the whole step took about
// 260 ns with these thresholds (290 ns with every backward GEMM in OpenBLAS).
//
// Narrow outputs sum in registers. A loop that accumulates into c[j] across batch rows, with the
// width j unknown to the compiler, keeps c[j] in memory: every row's add then waits for the store
// of the row before (store-to-load forwarding, several cycles). On the lecture network that chain
// was most of the step: its dW GEMMs, column sums and 3 -> 1 forward each chain 10 rows of 1-3
// values. Each value summed in a register instead (same terms, same order, so the same float
// results): about 225 -> 170 ns per step (process CPU per step of the step loop alone, run on its
// own, AVX-512 clone, median of 8 rounds alternating with the old build).
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
// (vectorizes over n). bias may be null. Below 4 columns each c[i, j] is summed in a register
// instead (the same terms in the same order).
BN_INLINE void LoopNN(float* __restrict c, const float* __restrict a, const float* __restrict b, int64_t m,
                      int64_t n, int64_t k, const float* __restrict bias = nullptr) {
  if (n < 4) {
    for (int64_t i = 0; i < m; i++) {
      const float* __restrict ai = a + i * k;
      for (int64_t j = 0; j < n; j++) {
        float acc = bias ? bias[j] + ai[0] * b[j] : ai[0] * b[j];
        for (int64_t p = 1; p < k; p++) acc += ai[p] * b[p * n + j];
        c[i * n + j] = acc;
      }
    }
    return;
  }
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

// c (n, k) = d (m, n)^T * x (m, k): c[j, p] is a sum over batch rows of d[i, j] x[i, p], in a
// register, rows in order. (Only for m*n*k <= kLoopBackwardMax: every shape is tiny.)
BN_INLINE void LoopTN(float* __restrict c, const float* __restrict d, const float* __restrict x, int64_t m,
                      int64_t n, int64_t k) {
  for (int64_t j = 0; j < n; j++) {
    for (int64_t p = 0; p < k; p++) {
      float acc = d[j] * x[p];
      for (int64_t i = 1; i < m; i++) acc += d[i * n + j] * x[i * k + p];
      c[j * k + p] = acc;
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

}  // namespace plan
}  // namespace blasnet
