// What every step file of the fused plan (native/steps/<kind>.h) builds on: the plain types a spec
// is made of (Window2d, ParamRange, PlanError) and the validation context and helpers.
//
// A step file holds everything the fused plan knows about one layer kind, as one struct:
//
//   struct DenseStep {
//     struct Desc { ... };    // its own spec fields (LayerDesc, plan.h, derives from every Desc)
//     struct Fields { ... };  // its own compiled fields (Op, plan_workspace.h, derives from every Fields)
//     template <class D, class R> static void Parse(D& d, R& r);   // spec fields from the reader
//                                                                   // (plan_spec.cc's LayerReader)
//     template <class L> static PlanError Validate(const L& l, ValidateContext& c);
//     template <class Op, class L, class C> static void Compile(Op& op, const L& l, C& c);  // CompileContext,
//                                                                   // plan_compile.cc: fields, workspaces
//     template <class Op, class W> static void Forward(Op& op, W& ws, int64_t rows, bool training, Rng& rng);
//     template <class Op, class W> static float* Backward(Op& op, W& ws, float* d, float* other, int64_t rows);
//   };
//
// and its line in BN_LAYERS (steps.h). The functions are templates so that a step file can declare
// the fields LayerDesc and Op are composed of and still use them; they are instantiated once, by the
// switches steps.h's list generates (parse, validate, compile, forward, backward), and inlined there.
// Names of Desc and Fields members must differ from every other kind's and from the common ones
// (LayerDesc in plan.h, Op in plan_workspace.h): a clash does not build (an ambiguous member).
//
// Forward reads op.inPtr (rows, op.in) and sets op.outPtr (rows, op.out). Backward: d (rows, op.out)
// holds dL/d(output); it leaves dL/d(input) in d or in `other` and returns which (the step loop
// ping-pongs the two delta buffers).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "../ops/window.h"

namespace blasnet {
namespace plan {

/// A 2-D window (a convolution kernel or a pooling window) sliding over (channels, height, width)
/// samples, as lib/ops/window.ts's Window2d: output (oh, ow), tap (i, j) reads input position
/// h = oh*strideH - padTop + i*dilationH, w = ow*strideW - padLeft + j*dilationW.
struct Window2d {
  int64_t channels = 0, height = 0, width = 0;
  int64_t kernelH = 1, kernelW = 1;
  int64_t strideH = 1, strideW = 1;
  int64_t padTop = 0, padLeft = 0;
  int64_t dilationH = 1, dilationW = 1;
  int64_t outH = 0, outW = 0;
};

/// A range [begin, end) of the flat parameter buffer.
struct ParamRange {
  int64_t begin = 0;
  int64_t end = 0;
};

/// A validation failure: which JS error to throw and its message (naming the field).
struct PlanError {
  bool range = false;  // RangeError if true, else TypeError
  std::string message;
  bool ok() const { return message.empty(); }
};

/// What a step's Validate sees besides its own fields: where it is and what came before it.
struct ValidateContext {
  std::string at;      // "spec.layers[i]", for messages
  size_t index = 0;    // i
  int64_t width = 0;   // values per sample the previous step produces; Validate sets the step's own
  int64_t paramCount = 0;
  int64_t batchSize = 0;
  std::vector<std::pair<int64_t, int64_t>> ranges;  // parameter ranges of the steps so far (overlap check)
  std::vector<std::pair<size_t, int64_t>> open;     // residualStarts not closed yet: index, width
};

// --- validation helpers ------------------------------------------------------------------------

inline std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

inline PlanError Range(const std::string& m) { return PlanError{true, m}; }

inline bool IsFinite(double v) { return std::isfinite(v); }

constexpr int64_t kMax31 = (int64_t(1) << 31) - 1;

// The product of positive factors, saturating at 2^62 (no overflow for any factors).
inline int64_t Product(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (f <= 0) return 0;
    if (p > (int64_t(1) << 62) / f) return int64_t(1) << 62;
    p *= f;
  }
  return p;
}

// A size: an integer in [1, 2^30].
inline PlanError Dim(const std::string& name, int64_t v) {
  if (v < 1 || v > (int64_t(1) << 30)) return Range("Invalid " + name + ": " + Num(double(v)) + "; expected an integer in [1, 2^30]");
  return {};
}

// A parameter range of n values at `offset` inside [0, P) (or offset -1 when `optional`), recorded
// in `ranges` for the overlap check.
inline PlanError ParamRangeIn(std::vector<std::pair<int64_t, int64_t>>& ranges, const std::string& name, int64_t offset,
                              int64_t n, int64_t P, bool optional) {
  if (optional && offset == -1) return {};
  if (offset < 0 || n > P || offset > P - n) {
    return Range("Invalid " + name + ": " + Num(double(offset)) + "; expected " + (optional ? "-1 or " : "") + "an offset of " + Num(double(n)) +
                 " values within the " + Num(double(P)) + " parameters");
  }
  ranges.push_back({offset, offset + n});
  return {};
}

// A step's window over (C, H, W) samples of `width` values: every size in [1, 2^30] (padding in
// [0, 2^30]), C*H*W = width, outH and outW among the sizes PyTorch's formula gives for an end
// padding in [0, max(pad, reach)], C*kH*kW below 2^31. Pools: padding at most half the effective
// kernel (PyTorch's rule: no window lies wholly in the padding); average pooling: dilation 1.
inline PlanError CheckWindow(const Window2d& g, const std::string& at, int64_t width, bool pool, bool avg) {
  const std::string p = at + ".window.";
  const std::pair<const char*, int64_t> sizes[] = {{"channels", g.channels}, {"height", g.height}, {"width", g.width},
                                                   {"kernelH", g.kernelH},   {"kernelW", g.kernelW}, {"strideH", g.strideH},
                                                   {"strideW", g.strideW},   {"dilationH", g.dilationH}, {"dilationW", g.dilationW},
                                                   {"outH", g.outH},         {"outW", g.outW}};
  for (const auto& [name, v] : sizes) {
    if (v < 1 || v > (int64_t(1) << 30)) return Range("Invalid " + p + name + ": " + Num(double(v)) + "; expected an integer in [1, 2^30]");
  }
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"padTop", g.padTop}, {"padLeft", g.padLeft}}) {
    if (v < 0 || v > (int64_t(1) << 30)) return Range("Invalid " + p + name + ": " + Num(double(v)) + "; expected an integer in [0, 2^30]");
  }
  if (Product({g.channels, g.height, g.width}) != width) {
    return Range("Invalid " + at + ".window: (channels, height, width) = (" + Num(double(g.channels)) + ", " + Num(double(g.height)) + ", " + Num(double(g.width)) +
                 ") is not the " + Num(double(width)) + " values per sample the previous layer produces");
  }
  if (Product({g.channels, g.kernelH, g.kernelW}) > kMax31) return Range("Invalid " + at + ".window: channels x kernelH x kernelW must be below 2^31");
  if (avg && (g.dilationH != 1 || g.dilationW != 1)) return Range("Invalid " + p + "dilationH/dilationW: " + Num(double(g.dilationH)) + "/" + Num(double(g.dilationW)) + "; average pooling takes dilation 1");
  struct Axis {
    const char* name;
    int64_t size, kernel, stride, pad, dilation, out;
  };
  for (const Axis& a : {Axis{"H", g.height, g.kernelH, g.strideH, g.padTop, g.dilationH, g.outH},
                        Axis{"W", g.width, g.kernelW, g.strideW, g.padLeft, g.dilationW, g.outW}}) {
    const int64_t reach = a.dilation * (a.kernel - 1);
    if (pool && a.pad * 2 > reach + 1) {
      return Range("Invalid " + p + (a.name[0] == 'H' ? "padTop" : "padLeft") + ": " + Num(double(a.pad)) + "; pooling padding must be at most half the effective kernel size (" +
                   Num(double(reach + 1)) + ")");
    }
    int64_t lo = 0, hi = 0;
    ops::OutputSizeRange(a.size, a.kernel, a.stride, a.pad, a.dilation, &lo, &hi);
    if (a.out < std::max<int64_t>(lo, 1) || a.out > hi) {
      return Range("Invalid " + p + "out" + a.name + ": " + Num(double(a.out)) + "; the window's size, kernel, stride, padding and dilation give " +
                   (hi < 1 ? std::string("no output") : "an output size in [" + Num(double(std::max<int64_t>(lo, 1))) + ", " + Num(double(hi)) + "]"));
    }
  }
  return {};
}

// --- compile helpers ---------------------------------------------------------------------------

// The ops headers' window (every field an int: validated by CheckWindow).
inline ops::Window2d OpsWindow(const Window2d& w) {
  ops::Window2d g;
  g.channels = int(w.channels);
  g.height = int(w.height);
  g.width = int(w.width);
  g.kernelH = int(w.kernelH);
  g.kernelW = int(w.kernelW);
  g.strideH = int(w.strideH);
  g.strideW = int(w.strideW);
  g.padTop = int(w.padTop);
  g.padLeft = int(w.padLeft);
  g.dilationH = int(w.dilationH);
  g.dilationW = int(w.dilationW);
  g.outH = int(w.outH);
  g.outW = int(w.outW);
  return g;
}

}  // namespace plan
}  // namespace blasnet
