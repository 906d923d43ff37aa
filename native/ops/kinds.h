// Every kind the addon knows, listed once: activations, losses and optimizers, each with its
// integer code (the contract with the TypeScript registry, lib/ops/; the loader compares the two
// through the addon's kinds() export when it loads). The fused plan's layer kinds are listed the
// same way beside their step files, in steps/steps.h.
//
// Each list is an X-macro: X(name, code[, ...]). The activation, loss and optimizer lists sit at
// the top of their ops header, beside their math (activations.h, losses.h, optimizers.h), so that
// adding one is a line and its math in one file. They are expanded
// into the enums (in those headers) and the name tables (here), in the bindings into the argument
// checks, error messages and the kinds() table, and in kernels.cc / the fused plan into the dispatch
// switches (one case per kind, no default: -Wswitch reports a kind without a case).
#pragma once
#include <cstddef>
#include <string>

// The activation, loss and optimizer lists live beside their math (adding one is a line there).
#include "activations.h"
#include "losses.h"
#include "optimizers.h"

namespace blasnet {

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
#undef BN_KIND_ENTRY

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
