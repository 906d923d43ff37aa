// Every kind the addon knows, listed once: activations, losses, optimizers and plan layers, each
// with its integer code (the contract with the TypeScript registry, lib/ops/; the loader compares
// the two through the addon's kinds() export when it loads).
//
// Each list is an X-macro: X(name, code[, ...]). It is expanded here into the enums and the name
// tables, in the bindings into the argument checks, error messages and the kinds() table, and in
// kernels.cc / plan.cc into the dispatch switches (one case per kind, no default: -Wswitch
// reports a kind without a case). Adding a kind is one line here plus its math in the ops header.
#pragma once
#include <cstddef>
#include <string>

// Element-wise activations. Math: ops/activations.h.
#define BN_ACTIVATIONS(X) \
  X(linear, 0)            \
  X(sigmoid, 1)           \
  X(relu, 2)              \
  X(tanh, 3)              \
  X(leakyRelu, 4)         \
  X(gelu, 5)              \
  X(silu, 6)              \
  X(softplus, 7)

// Losses: the regression ones (element-wise, the regressionLoss kernel) first, then the rest.
// Math: ops/losses.h.
#define BN_REGRESSION_LOSSES(X) \
  X(mse, 0)                     \
  X(mae, 1)                     \
  X(huber, 2)
#define BN_LOSSES(X)        \
  BN_REGRESSION_LOSSES(X)   \
  X(crossEntropy, 3)        \
  X(crossEntropyDense, 4)   \
  X(bce, 5)

// Optimizers (PyTorch semantics): name, code, then the names of the four hyperparameters in the
// order of the `hyper` array. Math and state slots: ops/optimizers.h.
#define BN_OPTIMIZERS(X)                                                      \
  X(sgd, 0, "momentum", "dampening", "nesterov", "weightDecay")               \
  X(adam, 1, "beta1", "beta2", "eps", "weightDecay")                          \
  X(adamw, 2, "beta1", "beta2", "eps", "weightDecay")                         \
  X(rmsprop, 3, "alpha", "eps", "weightDecay", "momentum")                    \
  X(adagrad, 4, "lrDecay", "weightDecay", "eps", "initialAccumulatorValue")

// Layer kinds of the fused training plan (plan.h).
#define BN_LAYERS(X) \
  X(dense, 0)        \
  X(activation, 1)   \
  X(softmax, 2)      \
  X(dropout, 3)

namespace blasnet {

#define BN_ENUMERATOR(name, code, ...) name = code,
enum class Activation : int { BN_ACTIVATIONS(BN_ENUMERATOR) };
enum class RegressionLoss : int { BN_REGRESSION_LOSSES(BN_ENUMERATOR) };
enum class Loss : int { BN_LOSSES(BN_ENUMERATOR) };
enum class Optimizer : int { BN_OPTIMIZERS(BN_ENUMERATOR) };
enum class LayerKind : int { BN_LAYERS(BN_ENUMERATOR) };
#undef BN_ENUMERATOR

/// One entry of a kind list: its name and code.
struct KindEntry {
  const char* name;
  int code;
};

#define BN_KIND_ENTRY(name, code, ...) {#name, code},
constexpr KindEntry kActivationKinds[] = {BN_ACTIVATIONS(BN_KIND_ENTRY)};
constexpr KindEntry kRegressionLossKinds[] = {BN_REGRESSION_LOSSES(BN_KIND_ENTRY)};
constexpr KindEntry kLossKinds[] = {BN_LOSSES(BN_KIND_ENTRY)};
constexpr KindEntry kOptimizerKinds[] = {BN_OPTIMIZERS(BN_KIND_ENTRY)};
constexpr KindEntry kLayerKinds[] = {BN_LAYERS(BN_KIND_ENTRY)};
#undef BN_KIND_ENTRY

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

/// The entry with this code, or null.
template <size_t N>
const KindEntry* FindKind(const KindEntry (&table)[N], int code) {
  for (const KindEntry& e : table) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

/// The entry with this name, or null.
template <size_t N>
const KindEntry* FindKind(const KindEntry (&table)[N], const std::string& name) {
  for (const KindEntry& e : table) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

/// The valid codes for an error message: "0 (linear), 1 (sigmoid), ...".
template <size_t N>
std::string CodeChoices(const KindEntry (&table)[N]) {
  std::string s;
  for (const KindEntry& e : table) {
    if (!s.empty()) s += ", ";
    s += std::to_string(e.code) + " (" + e.name + ")";
  }
  return s;
}

/// The valid names for an error message: "\"linear\", \"sigmoid\", ...".
template <size_t N>
std::string NameChoices(const KindEntry (&table)[N]) {
  std::string s;
  for (const KindEntry& e : table) {
    if (!s.empty()) s += ", ";
    s += std::string("\"") + e.name + "\"";
  }
  return s;
}

}  // namespace blasnet
