// What the fused plan compiles a spec to (plan_compile.cc): one Op per step, with the step's
// geometry, its views of the flat parameter / gradient buffers and its own workspaces; and the
// Workspace holding them all. Everything here is allocated once, in the Plan constructor; the step
// loop (plan_steps.cc) only reads and writes it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "ops/kinds.h"
#include "ops/window.h"
#include "plan.h"
#include "plan_region.h"
#include "plan_threads.h"

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

  // Sample-parallel conv and pooling steps (plan_region.h): the team, started once by
  // SetUpThreads, and each thread's own workspaces (thread 0's: cols, gemmOut and the step's own dW).
  std::vector<float*> threadCols;     // (threads) of (k, chunk*outHW)
  std::vector<float*> threadGemmOut;  // (threads) of (outChannels, chunk*outHW)
  std::vector<float*> threadDw;       // (threads) of (outChannels, k): a thread's part of dW ([0] unused)
  std::vector<double*> threadSums;    // (threads, at least 1 with a conv step) of (outChannels): a thread's bias sums

  float* Alloc(int64_t n) {
    owned.push_back(std::make_unique<AlignedFloats>(n));
    return owned.back()->data;
  }
  // int32 storage (same size and alignment as floats).
  int32_t* AllocInt(int64_t n) { return reinterpret_cast<int32_t*>(Alloc(n)); }

  /// Starts the team and allocates each thread's workspaces, for a plan with conv or pooling steps
  /// and a thread count (threads::Count() when the plan is built, at most batchSize) above 1; otherwise
  /// only the conv steps' bias sums (every step runs on the calling thread, as without threads). colsSize and gemmOutSize
  /// are the conv steps' shared workspace sizes (thread 0 uses cols and gemmOut).
  void SetUpThreads(int64_t batchSize, int64_t colsSize, int64_t gemmOutSize) {
    int64_t maxDw = 0, maxChannels = 0;
    bool regions = false;
    for (const Op& op : ops) {
      if (op.kind == LayerKind::conv2d) {
        maxDw = std::max(maxDw, op.outChannels * op.k);
        maxChannels = std::max(maxChannels, op.outChannels);
      }
      regions = regions || op.kind == LayerKind::conv2d || op.kind == LayerKind::maxPool2d || op.kind == LayerKind::avgPool2d;
    }
    // Thread 0's bias sums, also the single-threaded conv backward's (doubles: two floats each).
    auto sums = [&] { return maxChannels > 0 ? reinterpret_cast<double*>(Alloc(2 * maxChannels)) : nullptr; };
    threadSums.push_back(sums());
    int64_t n = std::min<int64_t>(threads::Count(), batchSize);
    if (!regions || n <= 1) return;
    team = std::make_unique<threads::Team>(int(n));
    n = team->size();
    for (int64_t t = 0; t < n; t++) {
      threadCols.push_back(t == 0 ? cols : (colsSize > 0 ? Alloc(colsSize) : nullptr));
      threadGemmOut.push_back(t == 0 ? gemmOut : (gemmOutSize > 0 ? Alloc(gemmOutSize) : nullptr));
      threadDw.push_back(t == 0 || maxDw == 0 ? nullptr : Alloc(maxDw));
      if (t > 0) threadSums.push_back(sums());
    }
  }

  /// The threads a region over `rows` samples runs on: the team's, at most the thread count now set
  /// (setThreads(1) after the plan was built runs it on one) and `rows`.
  int RegionThreads(int64_t rows) const {
    if (!team || rows < 2) return 1;
    const int64_t n = std::min<int64_t>({int64_t(team->size()), int64_t(threads::Count()), rows});
    return int(n);
  }

  /// Runs the region on r.threads threads, OpenBLAS on one thread meanwhile.
  void RunRegion(Region r) {
    threads::BlasSolo solo;
    team->Run(r.threads, &RunRegionPart, &r);
  }

  // Last: destroyed (its workers joined) before the buffers they work in.
  std::unique_ptr<threads::Team> team;
};

/// For a run (steps or a forward pass) of a plan whose conv and pooling steps run on its own threads:
/// OpenBLAS on one thread for the whole run, the dense layers' GEMMs included. Why not only inside the
/// regions: after each threaded GEMM, OpenBLAS's idle worker polls with sched_yield for about 2^28
/// cycles before it sleeps, so it kept competing with the plan's two threads through every conv
/// region. Measured with test/native/plan_step_timing.cc (T5, 2 threads, process CPU per step, on a
/// loaded machine, alternating): 39.4 / 36.0 ms with OpenBLAS threaded between the regions, 27.6 / 27.1 ms
/// with it on one thread for the run (perf: ~20% of the process's cycles were in sched_yield before).
class RunThreads {
 public:
  explicit RunThreads(const Workspace& ws) {
    if (ws.team != nullptr && threads::Count() > 1) solo_.emplace();
  }

 private:
  std::optional<threads::BlasSolo> solo_;
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
