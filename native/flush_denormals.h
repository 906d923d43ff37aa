// Flush-to-zero for the fused training plan: subnormal floats read and produced as zero.
//
// Why: SGD momentum and Adam moments of parameters whose gradient is zero (a dead ReLU unit, a
// class absent from the batch) decay geometrically (v <- 0.9 v) into the subnormal range, and on
// x86 every arithmetic op on a subnormal takes a microcode assist of ~100+ cycles. Measured on the
// T4 workload (17 dense layers, SGD momentum 0.9): after one epoch about 1.2% of the velocity
// buffer was subnormal and a step took 15% longer (21.2k -> 18.0k samples/s); with flushing the
// speed stayed flat. TensorFlow's CPU runtime flushes the same way; PyTorch offers it as
// torch.set_flush_denormal(True).
//
// Effect on results: values below 1.2e-38 in magnitude become 0 during a native training run.
// The TypeScript backend keeps them; parity tests compare with tolerances far above 1e-38.
//
// Scope: the thread that runs the plan's steps (a libuv worker), for the duration of one run; the
// previous mode is restored afterwards. OpenBLAS's own threads are not touched: GEMM inputs
// (weights, activations, deltas) are not where subnormals accumulate.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace blasnet {

class ScopedFlushDenormals {
 public:
#if defined(__SSE__) || defined(__x86_64__)
  // MXCSR bit 15: flush-to-zero (results); bit 6: denormals-are-zero (inputs).
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#elif defined(__aarch64__)
  // FPCR bit 24 (FZ): flush subnormal inputs and results to zero.
  ScopedFlushDenormals() {
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
    const unsigned long long fz = saved_ | (1ull << 24);
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fz));
  }
  ~ScopedFlushDenormals() { __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_)); }

 private:
  unsigned long long saved_;
#else
  ScopedFlushDenormals() {}
#endif

 public:
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;
};

}  // namespace blasnet
