// What the fused plan compiles a spec to (plan_compile.cc): one Op per step, with the step's
// geometry, its views of the flat parameter / gradient buffers and its own workspaces; and the
// Workspace holding them all. Everything here is allocated once, in the Plan constructor; the step
// loop (plan_steps.cc) only reads and writes it.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "ops/kinds.h"
#include "ops/window.h"
#include "plan.h"

namespace blasnet {
namespace plan {

/// 64-byte aligned float storage (one cache line; full AVX-512 vectors), zeroed.
struct AlignedFloats {
  float* data = nullptr;
  explicit AlignedFloats(int64_t n) {
    const size_t bytes = (size_t(n > 1 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
    std::memset(data, 0, bytes);
  }
  ~AlignedFloats() { std::free(data); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};

/// One step of the plan: the fields several kinds share (here), then each kind's own (the Fields of
/// its step file, steps/<kind>.h). `in` and `out` are the values per sample the step reads and
/// writes (its flat widths); the kinds with a spatial structure keep their geometry beside them.
struct OpCommon {
  LayerKind kind = LayerKind::dense;
  int64_t in = 0, out = 0;
  // The step's parameters (dense, conv2d; batchNorm and layerNorm: gamma = w, beta = b) and their
  // gradients
  float* w = nullptr;
  const float* b = nullptr;  // bias (dense: or the shared zeros)
  float* dw = nullptr;
  float* db = nullptr;  // bias grad (dense: or a scratch row)
  // activation, and the dense and conv2d steps with the activation after them fused in
  Activation act = Activation::linear;
  float alpha = 0;
  bool needDx = true;    // produce the input gradient (false for the first layer with parameters)
  bool backward = true;  // take part in backward (false for steps before the first with parameters)
  float* z = nullptr;    // dense, conv2d: GEMM output (+ bias), (B, out)
  float* a = nullptr;    // output, (B, out); dense: == z when act is linear
  // conv2d, maxPool2d, avgPool2d: the window over the (C, H, W) input sample
  ops::Window2d win;
  // batchNorm, layerNorm
  double eps = 0;
  float* mean = nullptr;      // batchNorm: the batch's (C); layerNorm: per group (B * out / size)
  float* variance = nullptr;  // batchNorm: the batch's biased variance (C); layerNorm: 1/std per group
  // residualStart / residualEnd: the partner step's index; `kept` (B, out) holds the end's dy
  size_t partner = 0;
  float* kept = nullptr;
  // The parameters this step owns that the optimizer updates (its own ranges minus the frozen
  // ones): updated right after the step's backward pass when the workspace fuses the update.
  std::vector<ParamRange> updates;
  // set by each forward pass
  const float* inPtr = nullptr;
  const float* outPtr = nullptr;
};

struct Op : OpCommon BN_LAYERS(BN_STEP_FIELDS) {};

struct Workspace {
  std::vector<Op> ops;
  std::vector<std::unique_ptr<AlignedFloats>> owned;
  float* xb = nullptr;   // (B, in)
  float* yb = nullptr;   // (B, out)
  std::vector<int32_t> lb;  // (B) class labels
  float* d0 = nullptr;  // delta ping-pong buffers, (B, max width)
  float* d1 = nullptr;
  float* cols = nullptr;     // conv2d: the unrolled input of one chunk, (k, chunk*outHW), shared by every conv step
  float* gemmOut = nullptr;  // conv2d: (outChannels, chunk*outHW) GEMM output / gradient, shared
  float* params = nullptr;
  float* grads = nullptr;
  float* state = nullptr;
  uint32_t* rngState = nullptr;
  bool hasDropout = false;
  // Update each layer's parameters right after its backward GEMMs, while its gradient (and weight,
  // just read by the dX GEMM) are still in L2, instead of one pass over all P at the end: only
  // without global-norm clipping (which needs every gradient first), and only when the parameters
  // outgrow the caches anyway (below that, one loop over P is cheaper than many).
  bool fuseUpdate = false;
  std::vector<ParamRange> frozen;     // spec.frozen: gradients zeroed each step, never updated
  std::vector<ParamRange> trainable;  // [0, P) minus frozen: what the optimizer updates
  std::vector<ParamRange> gaps;       // trainable parameters no step owns (updated after backward when fused)

  float* Alloc(int64_t n) {
    owned.push_back(std::make_unique<AlignedFloats>(n));
    return owned.back()->data;
  }
  // int32 storage (same size and alignment as floats).
  int32_t* AllocInt(int64_t n) { return reinterpret_cast<int32_t*>(Alloc(n)); }
};

/// `ranges` minus `cut` (both sorted, non-overlapping), appended to `out`, empty pieces dropped.
inline void Subtract(std::vector<ParamRange>& out, const std::vector<ParamRange>& ranges, const std::vector<ParamRange>& cut) {
  for (const ParamRange& r : ranges) {
    int64_t at = r.begin;
    for (const ParamRange& c : cut) {
      if (c.end <= at || c.begin >= r.end) continue;
      if (c.begin > at) out.push_back({at, c.begin});
      at = c.end > at ? c.end : at;
    }
    if (at < r.end) out.push_back({at, r.end});
  }
}

}  // namespace plan
}  // namespace blasnet
