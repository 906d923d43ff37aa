// The element-wise activations, one definition each: y = f(x) and dx = dy f'(x) for one value.
// The per-kernel entry points (kernels.cc) and the fused plan (plan_steps.cc) both run their loops over
// these, so the two native paths give the same values on the same CPU.
//
// NaN and infinities follow the TypeScript reference (lib/backend/ts/activations.ts) comparison
// for comparison: f(NaN) = NaN for every f; relu and leakyRelu select with x < 0 forward and
// x > 0 backward (so relu'(NaN) selects 0, as there). exp / sigmoid / tanh are fast_math.h's
// (NaN -> NaN, sigmoid(-inf) = 0, sigmoid(+inf) = 1, tanh(+-inf) = +-1).
//
// Plain C++ (no N-API), always inlined: each caller's loop is compiled (and vectorized) per ISA
// inside its own target_clones function.
#pragma once
#include <cmath>

#include "../fast_math.h"

// Element-wise activations. Their math is below; the codes are the contract with lib/ops/activations.ts
// (checked through kinds(), ops/kinds.h).
#define BN_ACTIVATIONS(X) \
  X(linear, 0)            \
  X(sigmoid, 1)           \
  X(relu, 2)              \
  X(tanh, 3)              \
  X(leakyRelu, 4)         \
  X(gelu, 5)              \
  X(silu, 6)              \
  X(softplus, 7)

namespace blasnet {
#define BN_ENUMERATOR(name, code, ...) name = code,
enum class Activation : int { BN_ACTIVATIONS(BN_ENUMERATOR) };
#undef BN_ENUMERATOR
}  // namespace blasnet

#define BN_OP_INLINE inline __attribute__((always_inline))

namespace blasnet {
namespace ops {

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluA = 0.044715f;
constexpr float kSoftplusThreshold = 20.0f;  // PyTorch's default: softplus(x) = x above it (beta 1)

template <Activation A>
constexpr bool kActivationDefined = false;

/// y = f(x). alpha: leakyRelu's negative slope (ignored by the others).
template <Activation A>
BN_OP_INLINE float ActivationForward(float x, float alpha) {
  if constexpr (A == Activation::linear) {
    return x;
  } else if constexpr (A == Activation::sigmoid) {
    return fastmath::Sigmoid(x);
  } else if constexpr (A == Activation::relu) {
    return x < 0.0f ? 0.0f : x;  // NaN stays NaN
  } else if constexpr (A == Activation::tanh) {
    return fastmath::Tanh(x);
  } else if constexpr (A == Activation::leakyRelu) {
    return x < 0.0f ? alpha * x : x;
  } else if constexpr (A == Activation::gelu) {
    // The tanh approximation 0.5 x (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3), written as
    // x sigmoid(2u): the same function without the cancellation of 1 + tanh u for large negative x.
    const float u = kGeluC * (x + kGeluA * x * x * x);
    return x * fastmath::Sigmoid(2.0f * u);
  } else if constexpr (A == Activation::silu) {
    return x * fastmath::Sigmoid(x);
  } else if constexpr (A == Activation::softplus) {
    return x > kSoftplusThreshold ? x : std::log1p(fastmath::Exp(x));
  } else {
    static_assert(kActivationDefined<A>, "an activation in BN_ACTIVATIONS has no forward definition here");
    return x;
  }
}

/// dx = dy f'(x), from the forward input x and output y (sigmoid and tanh read y, linear neither,
/// the others x; see ActivationBackwardReadsInput).
template <Activation A>
BN_OP_INLINE float ActivationBackward(float dy, float x, float y, float alpha) {
  if constexpr (A == Activation::linear) {
    return dy;
  } else if constexpr (A == Activation::sigmoid) {
    return dy * (y * (1.0f - y));
  } else if constexpr (A == Activation::relu) {
    return x > 0.0f ? dy : 0.0f;  // the derivative at 0 is taken as 0, as in PyTorch
  } else if constexpr (A == Activation::tanh) {
    return dy * (1.0f - y * y);
  } else if constexpr (A == Activation::leakyRelu) {
    return x > 0.0f ? dy : alpha * dy;
  } else if constexpr (A == Activation::gelu) {
    // d/dx [x s(2u)] = s + 2 x s (1 - s) u',  u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    // x^2 is capped at 1e30 so that u' stays finite for |x| > 1.8e19, where (1 - s) or s is 0
    // and the second term is 0 (as the reference's double arithmetic gives); +-inf still give NaN
    // (0 times infinity, as in the reference).
    const float xx = x * x;
    const float x2 = xx > 1e30f ? 1e30f : xx;  // NaN stays NaN
    const float u = kGeluC * (x + kGeluA * x2 * x);
    const float du = kGeluC * (1.0f + 3.0f * kGeluA * x2);
    // s = sigmoid(2u) and 1 - s = sigmoid(-2u), both from e = exp(-|2u|): 1 - s stays accurate
    // where s rounds to 1 (it still matters there, multiplied by x u').
    const float z = 2.0f * u;
    const float e = fastmath::Exp(-std::fabs(z));
    const float r = 1.0f / (1.0f + e);
    const float s = z >= 0.0f ? r : e * r;
    const float sc = z >= 0.0f ? e * r : r;
    // x last: 2x overflows for |x| > 1.7e38, where s (1 - s) u' is already 0.
    return dy * (s + x * (2.0f * s * sc * du));
  } else if constexpr (A == Activation::silu) {
    // silu'(x) = s (1 + x (1 - s)), s = sigmoid(x).
    const float s = fastmath::Sigmoid(x);
    return dy * (s * (1.0f + x * (1.0f - s)));
  } else if constexpr (A == Activation::softplus) {
    // softplus'(x) = sigmoid(x); 1 above the threshold, where softplus(x) = x.
    return x > kSoftplusThreshold ? dy : dy * fastmath::Sigmoid(x);
  } else {
    static_assert(kActivationDefined<A>, "an activation in BN_ACTIVATIONS has no backward definition here");
    return dy;
  }
}

/// Whether ActivationBackward reads the forward input x (true) or can do with the output y in
/// its place (false): sigmoid and tanh read y only; relu reads x, but y > 0 exactly when x > 0
/// (NaN included), so y can stand in for it. The fused plan keeps x apart from y only when true.
constexpr bool ActivationBackwardReadsInput(Activation a) {
  switch (a) {
    case Activation::linear:
    case Activation::sigmoid:
    case Activation::relu:
    case Activation::tanh:
      return false;
    case Activation::leakyRelu:  // alpha may be <= 0: the sign of y does not tell the sign of x
    case Activation::gelu:
    case Activation::silu:
    case Activation::softplus:
      return true;
  }
  return true;
}

}  // namespace ops
}  // namespace blasnet
