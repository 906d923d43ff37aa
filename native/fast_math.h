// Fast, vectorizable float32 exp / sigmoid / tanh for the fused training plan (plan_steps.cc) and the
// element-wise kernels (kernels.cc).
//
// Everything here is branch-free straight-line arithmetic on floats and 32-bit integers (selects
// instead of branches, bit casts instead of float->int conversions), so GCC vectorizes loops that
// call these functions (AVX2 / AVX-512 in the target_clones versions of plan_steps.cc's hot loops).
//
// Accuracy, measured against double-precision references over EVERY float32 input of each range
// (2.2e9 values per function), for the FMA versions (x86-64-v3 / v4 clones: identical results) and
// the baseline x86-64 version (no FMA); worst case and where in brackets. test/fast-math.test.ts
// checks these bounds through the addon's planFastMath test export, including around each worst case:
//   Exp:     relative error < 1.15e-7 (about 1 ulp) for x in [-87.33, 88.72] (normal results)
//            [FMA 8.91e-8 at x = 5.2012; baseline 1.13e-7 at x = -5.1953];
//            x > 88.72 -> +inf; below x = -87.33 the result underflows gradually to subnormals
//            (absolute error <= 1.4e-45, one subnormal step) and x < -103.97 -> 0; NaN -> NaN.
//   Sigmoid: relative error < 1.7e-7 wherever the result is a normal float (x > -87.33)
//            [FMA 1.65e-7 at x = -16.9847; baseline 1.60e-7 at x = -16.8588];
//            absolute error <= 1.4e-45 for x in [-88.72, -87.33] (subnormal results); exactly 0
//            below x = -88.72, where exp(-x) overflows (the exact value is below 2.94e-39);
//            1 above x = 17; NaN -> NaN.
//   Tanh:    relative error < 1.6e-7 for all x [FMA 1.57e-7 at x = 0.63085; baseline 1.54e-7 at
//            x = 0.63472] (|x| < 0.625 by an odd polynomial, so tiny inputs keep full relative
//            precision); +-1 for |x| > 9.1; NaN -> NaN.
//
// How Exp works: exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 in [-ln2/2, ln2/2]
// by a two-constant Cody-Waite reduction (LN2_HI has 9 significant bits, so n * LN2_HI is exact
// for |n| <= 256). exp(r) = 1 + r q(r) with q of degree 5, fitted for this file by iteratively
// reweighted least squares for minimal relative error (truncation error 2.0e-9; the float32
// evaluation adds about 1e-7). 2^n is applied as two exact power-of-two factors (n split in two
// halves), which gives +inf on overflow and correctly rounded subnormals on underflow.
#pragma once
#include <cstdint>
#include <cstring>

namespace blasnet {
namespace fastmath {

inline float AsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t AsBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float Exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;          // ln 2 rounded to 9 bits
  constexpr float kLn2Lo = -2.12194440054690583e-4f;  // ln 2 - kLn2Hi
  constexpr float kRound = 12582912.0f;           // 1.5 * 2^23: adding it rounds to an integer
  // Clamp (NaN compares false both ways and stays NaN): 2^-150 and 2^128 are the extremes needed.
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  const float shifted = x * kLog2e + kRound;
  const float nf = shifted - kRound;  // round(x / ln 2), as a float
  // The integer n sits in the low mantissa bits of `shifted` (exact for |n| < 2^22).
  const int32_t n = static_cast<int32_t>(AsBits(shifted) - AsBits(kRound));
  float r = x - nf * kLn2Hi;
  r = r - nf * kLn2Lo;
  float q = 1.3843653436672351e-3f;
  q = q * r + 8.374155332085517e-3f;
  q = q * r + 4.1668002038266115e-2f;
  q = q * r + 1.666643126230341e-1f;
  q = q * r + 4.999999420902744e-1f;
  q = q * r + 1.0000000321651517f;
  const float p = 1.0f + r * q;
  // 2^n = 2^n1 * 2^n2 with n1, n2 in [-75, 64]: both normal floats.
  const int32_t n1 = n >> 1;
  const int32_t n2 = n - n1;
  const float s1 = AsFloat(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = AsFloat(static_cast<uint32_t>(n2 + 127) << 23);
  return (p * s1) * s2;
}

/// 1 / (1 + exp(-x)).
inline float Sigmoid(float x) { return 1.0f / (1.0f + Exp(-x)); }

/// tanh(x): odd polynomial for |x| < 0.625, else sign(x) (1 - e) / (1 + e) with e = exp(-2|x|).
inline float Tanh(float x) {
  const float ax = x < 0.0f ? -x : x;
  // Small |x|: x + x^3 q(x^2), q of degree 4 fitted for this file (relative error 4.4e-9).
  const float z = x * x;
  float q = -5.704987254019767e-3f;
  q = q * z + 2.0639087482901535e-2f;
  q = q * z - 5.373971516123055e-2f;
  q = q * z + 1.3331442199132393e-1f;
  q = q * z - 3.333328194205142e-1f;
  const float small = x + x * z * q;
  const float e = Exp(-2.0f * ax);
  float big = (1.0f - e) / (1.0f + e);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;
}

}  // namespace fastmath
}  // namespace blasnet
