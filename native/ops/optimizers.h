// The optimizer update rules (PyTorch semantics), one definition each, over a range of n
// parameters: the per-kernel entry point optimizerStep (kernels.cc) and the fused plan (plan_steps.cc,
// over all parameters or one layer's range at a time) both call OptimizerStep.
//
// hyper: the optimizer's kOptimizerHyperCount hyperparameters in the order BN_OPTIMIZERS lists them.
// State: OptimizerSlots(kind, hyper) slots of the range; slot s starts at state + s * stride (the
// fused plan's state holds each slot for all P parameters, so stride = P there and n here).
// Nothing is range-checked here (the TypeScript optimizers validate hyperparameters once, when
// they are made); the bindings check lengths, finiteness and the integer hyperparameters.
//
// Arithmetic, as PyTorch's own CPU optimizers: per-step constants (bias corrections, the decayed
// learning rate) in double, rounded once; the element loops in float32 (they vectorize over 16
// lanes, with sqrt and division in float), except the weight-decay term: g + wd * p is formed in
// double and rounded once. With weight decay the two terms often nearly cancel, and a float32
// product rounded before the sum leaves g with a large relative error, which RMSprop / Adam's
// division by sqrt(state) + eps then carries into the step (measured: 1e-5 off the double
// reference). Without weight decay the loops skip that term altogether.
#pragma once
#include <cblas.h>

#include <cmath>
#include <cstdint>


// Optimizers (PyTorch semantics): name, code, then the names of the four hyperparameters in the
// order of the `hyper` array. Math and state slots: below (codes: the contract with lib/optim/).
#define BN_OPTIMIZERS(X)                                                      \
  X(sgd, 0, "momentum", "dampening", "nesterov", "weightDecay")               \
  X(adam, 1, "beta1", "beta2", "eps", "weightDecay")                          \
  X(adamw, 2, "beta1", "beta2", "eps", "weightDecay")                         \
  X(rmsprop, 3, "alpha", "eps", "weightDecay", "momentum")                    \
  X(adagrad, 4, "lrDecay", "weightDecay", "eps", "initialAccumulatorValue")

namespace blasnet {
#define BN_ENUMERATOR(name, code, ...) name = code,
enum class Optimizer : int { BN_OPTIMIZERS(BN_ENUMERATOR) };
#undef BN_ENUMERATOR
}  // namespace blasnet

namespace blasnet {
/// Every optimizer takes this many hyperparameters (the `hyper` array of optimizerStep and of the
/// fused plan's spec.optimizer).
constexpr int kOptimizerHyperCount = 4;

/// The hyperparameter names of optimizer `code`, in `hyper` order; null for an unknown code.
inline const char* const* OptimizerHyperNames(int code) {
#define BN_HYPER_NAMES(name, c, ...)                                   \
  if (code == c) {                                                     \
    static const char* const names[] = {__VA_ARGS__};                  \
    static_assert(sizeof names / sizeof names[0] == kOptimizerHyperCount, \
                  #name " must list kOptimizerHyperCount hyperparameters"); \
    return names;                                                      \
  }
  BN_OPTIMIZERS(BN_HYPER_NAMES)
#undef BN_HYPER_NAMES
  return nullptr;
}

}  // namespace blasnet

#ifndef BN_OP_INLINE
#define BN_OP_INLINE inline __attribute__((always_inline))
#endif

namespace blasnet {
namespace ops {

/// Optimizer state slots per parameter: sgd 1 (velocity) when momentum != 0, else 0; adam and
/// adamw 2 (m, v); rmsprop 2 (sq, buf); adagrad 1 (sum).
inline int OptimizerSlots(Optimizer kind, const double* hyper) {
  switch (kind) {
    case Optimizer::sgd: return hyper[0] != 0.0 ? 1 : 0;
    case Optimizer::adam:
    case Optimizer::adamw: return 2;
    case Optimizer::rmsprop: return 2;
    case Optimizer::adagrad: return 1;
  }
  return 0;
}

/// Whether hyperparameter `index` of `kind` is a flag (0 or 1): sgd's nesterov.
inline bool OptimizerHyperIsFlag(Optimizer kind, int index) {
  switch (kind) {
    case Optimizer::sgd: return index == 2;
    case Optimizer::adam:
    case Optimizer::adamw:
    case Optimizer::rmsprop:
    case Optimizer::adagrad: return false;
  }
  return false;
}

/// g + wd p, rounded once (the float product and sum are exact in double); g itself without decay.
template <bool kDecay>
BN_OP_INLINE float DecayedGrad(float g, double wd, float p) {
  if constexpr (kDecay) {
    return float(double(g) + wd * double(p));
  } else {
    return g;
  }
}

// Plain SGD ranges at least this long go to cblas_saxpy (threaded inside OpenBLAS above 10k: more
// memory bandwidth than one core for this streaming update).
constexpr int64_t kAxpyMin = 1 << 16;

template <bool kDecay>
BN_OP_INLINE void SgdPlain(float* __restrict p, const float* __restrict grad, int64_t n, float lr, double wd) {
  for (int64_t i = 0; i < n; i++) p[i] -= lr * DecayedGrad<kDecay>(grad[i], wd, p[i]);
}

template <bool kDecay, bool kNesterov, bool kFirst>
BN_OP_INLINE void SgdMomentum(float* __restrict p, const float* __restrict grad, float* __restrict v, int64_t n,
                              float lr, float mu, float keep, double wd) {
  for (int64_t i = 0; i < n; i++) {
    const float g = DecayedGrad<kDecay>(grad[i], wd, p[i]);
    const float vi = kFirst ? g : mu * v[i] + keep * g;  // step 1: v = g, as PyTorch
    v[i] = vi;
    p[i] -= lr * (kNesterov ? g + mu * vi : vi);
  }
}

template <bool kDecay, bool kNesterov>
BN_OP_INLINE void SgdMomentumStep(float* p, const float* grad, float* v, int64_t n, float lr, float mu, float keep,
                                  double wd, bool first) {
  if (first) {
    SgdMomentum<kDecay, kNesterov, true>(p, grad, v, n, lr, mu, keep, wd);
  } else {
    SgdMomentum<kDecay, kNesterov, false>(p, grad, v, n, lr, mu, keep, wd);
  }
}

/// SGD. hyper [momentum, dampening, nesterov (0|1), weightDecay]; slot 0: velocity.
BN_OP_INLINE void SgdStep(float* p, const float* grad, float* state, int64_t n, double lr, int64_t step,
                          const double* hyper) {
  const double momentum = hyper[0], dampening = hyper[1], wd = hyper[3];
  const bool nesterov = hyper[2] != 0.0;
  const float lrf = float(lr);
  if (momentum == 0.0) {
    if (wd != 0.0) {
      SgdPlain<true>(p, grad, n, lrf, wd);
    } else if (n >= kAxpyMin) {
      cblas_saxpy(int(n), -lrf, grad, 1, p, 1);
    } else {
      SgdPlain<false>(p, grad, n, lrf, wd);
    }
    return;
  }
  const float mu = float(momentum), keep = float(1.0 - dampening);
  const bool first = step == 1;
  if (wd != 0.0) {
    if (nesterov) SgdMomentumStep<true, true>(p, grad, state, n, lrf, mu, keep, wd, first);
    else SgdMomentumStep<true, false>(p, grad, state, n, lrf, mu, keep, wd, first);
  } else {
    if (nesterov) SgdMomentumStep<false, true>(p, grad, state, n, lrf, mu, keep, wd, first);
    else SgdMomentumStep<false, false>(p, grad, state, n, lrf, mu, keep, wd, first);
  }
}

template <bool kDecay>
BN_OP_INLINE void AdamLoop(float* __restrict p, const float* __restrict grad, float* __restrict m,
                           float* __restrict v, int64_t n, float stepSize, float invSqrtBc2, float b1, float b2,
                           float c1, float c2, float eps, double wd, float shrink) {
  for (int64_t i = 0; i < n; i++) {
    const float pi = p[i];
    const float g = DecayedGrad<kDecay>(grad[i], wd, pi);
    const float mi = b1 * m[i] + c1 * g;
    const float vi = b2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi * shrink - stepSize * mi / (std::sqrt(vi) * invSqrtBc2 + eps);
  }
}

/// Adam (decoupled = false) and AdamW (decoupled = true). hyper [beta1, beta2, eps, weightDecay];
/// slots m, v. p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps); AdamW first
/// shrinks p by (1 - lr wd) instead of adding wd p to the gradient.
BN_OP_INLINE void AdamStep(float* p, const float* grad, float* state, int64_t stride, int64_t n, double lr,
                           int64_t step, const double* hyper, bool decoupled) {
  const double beta1 = hyper[0], beta2 = hyper[1], eps = hyper[2], wd = hyper[3];
  const double t = double(step);
  const float stepSize = float(lr / (1.0 - std::pow(beta1, t)));
  const float invSqrtBc2 = float(1.0 / std::sqrt(1.0 - std::pow(beta2, t)));
  const float b1 = float(beta1), b2 = float(beta2), c1 = float(1.0 - beta1), c2 = float(1.0 - beta2);
  const float shrink = decoupled ? float(1.0 - lr * wd) : 1.0f;
  float* m = state;
  float* v = state + stride;
  if (!decoupled && wd != 0.0) {
    AdamLoop<true>(p, grad, m, v, n, stepSize, invSqrtBc2, b1, b2, c1, c2, float(eps), wd, shrink);
  } else {
    AdamLoop<false>(p, grad, m, v, n, stepSize, invSqrtBc2, b1, b2, c1, c2, float(eps), wd, shrink);
  }
}

template <bool kDecay, bool kMomentum>
BN_OP_INLINE void RmspropLoop(float* __restrict p, const float* __restrict grad, float* __restrict sq,
                              float* __restrict buf, int64_t n, float lr, float alpha, float keep, float eps,
                              double wd, float mu) {
  for (int64_t i = 0; i < n; i++) {
    const float pi = p[i];
    const float g = DecayedGrad<kDecay>(grad[i], wd, pi);
    const float s = alpha * sq[i] + keep * g * g;
    sq[i] = s;
    if constexpr (kMomentum) {
      const float b = mu * buf[i] + g / (std::sqrt(s) + eps);
      buf[i] = b;
      p[i] = pi - lr * b;
    } else {
      p[i] = pi - lr * (g / (std::sqrt(s) + eps));
    }
  }
}

/// RMSprop (not centered). hyper [alpha, eps, weightDecay, momentum]; slots sq, buf (buf unused
/// when momentum is 0).
BN_OP_INLINE void RmspropStep(float* p, const float* grad, float* state, int64_t stride, int64_t n, double lr,
                              const double* hyper) {
  const double alpha = hyper[0], eps = hyper[1], wd = hyper[2], momentum = hyper[3];
  const float lrf = float(lr), a = float(alpha), keep = float(1.0 - alpha), epsf = float(eps), mu = float(momentum);
  float* sq = state;
  float* buf = state + stride;
  if (momentum != 0.0) {
    if (wd != 0.0) RmspropLoop<true, true>(p, grad, sq, buf, n, lrf, a, keep, epsf, wd, mu);
    else RmspropLoop<false, true>(p, grad, sq, buf, n, lrf, a, keep, epsf, wd, mu);
  } else {
    if (wd != 0.0) RmspropLoop<true, false>(p, grad, sq, buf, n, lrf, a, keep, epsf, wd, mu);
    else RmspropLoop<false, false>(p, grad, sq, buf, n, lrf, a, keep, epsf, wd, mu);
  }
}

template <bool kDecay>
BN_OP_INLINE void AdagradLoop(float* __restrict p, const float* __restrict grad, float* __restrict sum, int64_t n,
                              float clr, float eps, double wd) {
  for (int64_t i = 0; i < n; i++) {
    const float pi = p[i];
    const float g = DecayedGrad<kDecay>(grad[i], wd, pi);
    const float s = sum[i] + g * g;
    sum[i] = s;
    p[i] = pi - clr * (g / (std::sqrt(s) + eps));
  }
}

/// Adagrad. hyper [lrDecay, weightDecay, eps, initialAccumulatorValue]; slot sum (filled with
/// initialAccumulatorValue when the state is made, by the TypeScript side).
/// clr = lr / (1 + (t - 1) lrDecay); sum += g^2; p -= clr g / (sqrt(sum) + eps).
BN_OP_INLINE void AdagradStep(float* p, const float* grad, float* state, int64_t n, double lr, int64_t step,
                              const double* hyper) {
  const double lrDecay = hyper[0], wd = hyper[1], eps = hyper[2];
  const float clr = float(lr / (1.0 + double(step - 1) * lrDecay));
  if (wd != 0.0) {
    AdagradLoop<true>(p, grad, state, n, clr, float(eps), wd);
  } else {
    AdagradLoop<false>(p, grad, state, n, clr, float(eps), wd);
  }
}

/// One optimizer step over parameters p and gradients grad (n), in place; state as above; step is
/// the 1-based step number.
BN_OP_INLINE void OptimizerStep(Optimizer kind, float* p, const float* grad, float* state, int64_t stride, int64_t n,
                                double lr, int64_t step, const double* hyper) {
  switch (kind) {
    case Optimizer::sgd: SgdStep(p, grad, state, n, lr, step, hyper); return;
    case Optimizer::adam: AdamStep(p, grad, state, stride, n, lr, step, hyper, false); return;
    case Optimizer::adamw: AdamStep(p, grad, state, stride, n, lr, step, hyper, true); return;
    case Optimizer::rmsprop: RmspropStep(p, grad, state, stride, n, lr, hyper); return;
    case Optimizer::adagrad: AdagradStep(p, grad, state, n, lr, step, hyper); return;
  }
}

}  // namespace ops
}  // namespace blasnet
