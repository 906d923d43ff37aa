// N-API surface of the fused training plan (engine: plan.h; semantics: lib/backend/plan.ts): the
// FusedPlan class and the worker its runs go to. Spec parsing: plan_spec.cc; helpers: plan_napi.h.
// (Over 400 lines: the class, its worker and the copies that keep the worker off JavaScript's
// memory are one contract, described below, and read best together.)
//
//   new FusedPlan(spec, buffers)      validates the whole spec, keeps references to the four
//                                     buffers and allocates every workspace once
//   plan.runSteps(run) -> Promise<n>  validates the run, then runs it on a libuv worker
//                                     (Napi::AsyncWorker); n = steps completed
//   plan.forward(out, x, rows)        inference forward pass on the calling thread
//   plan.dispose()                    frees the workspaces and drops the buffer references
//   planFastMath(fn, out, x)          fast exp / sigmoid / tanh over x, for test/fast-math.test.ts
//   planActivation(code, alpha, ...)  the plan's activation passes, for test/native-ops.test.ts
//   planCopyPace(micros)              holds back the copy of each batch of a run's rows (tests)
//
// While a run is in flight the plan is busy: runSteps, forward and dispose throw an Error.
// Errors are TypeError (wrong type) or RangeError (bad value or length) naming the field.
//
// Memory the worker touches. JavaScript keeps running while the worker does, and can transfer
// (detach), resize or rewrite any array it can reach; an ArrayBuffer's memory is freed once the
// buffer it was transferred to is collected. So the worker reads and writes only memory that
// JavaScript cannot free or move while it runs:
// - a plan buffer backed by a SharedArrayBuffer (which cannot be detached, transferred or shrunk,
//   and lives as long as the plan's reference to its view) is used in place: blasnet's models
//   allocate theirs so (lib/core/shared.ts);
// - any other plan buffer is mirrored: the engine works in a copy the plan owns, copied in on the
//   calling thread before each run (and forward) and copied back when the run settles, if the
//   array is still the one the plan was made with (else the run rejects, naming the buffer);
// - a run's inputs are copied on the calling thread, within runSteps (no JavaScript runs until it
//   returns). First lr, the run's part of order, its row weights and class labels, every check
//   and every allocation, so that nothing can fail once the worker is queued. Then, with the
//   worker queued, the rows of x and y the run uses (those only, never the whole of x), gathered
//   in step order while the worker trains on the first batches: each step waits until its rows
//   are written (an atomic count of the rows copied, release-stored per batch), and runSteps
//   returns only once all are. The engine trains on these rows as its batches, without a copy of
//   its own. Unless x (and y, when it holds targets rather than class labels) are backed by
//   SharedArrayBuffers: those the worker reads in place (kept alive by the run), gathering each
//   batch itself; only their class labels, which are indices, are copied. Every value used as an
//   index (order entries, class labels) is checked in the copy the worker reads, so a check
//   cannot be undone by a later write; losses are written into the plan's memory and copied back
//   when the run settles.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "plan.h"
#include "plan_napi.h"

namespace blasnet {
namespace {

using namespace planbind;
using plan::LayerDesc;
using plan::PlanError;
using plan::SpecDesc;
using plan::StepArgs;

class FusedPlan;

// Test hook (planCopyPace): microseconds the calling thread sleeps before copying each batch of a
// run's rows, so that tests can hold the copy back behind the worker and check that every step
// waits for its rows. 0 (always, outside those tests): no pause.
std::atomic<int> gCopyPaceMicros{0};

// The baton: the run's arguments (every pointer into memory the plan owns or a shared plan
// buffer), the plan object (kept alive until the worker settles) and the losses array to copy the
// run's losses back into.
class RunWorker : public Napi::AsyncWorker {
 public:
  // `inPlace`: run.x and a float run.y are shared and the worker reads them where they are: the
  // worker keeps them (and so their SharedArrayBuffers) alive until it settles.
  RunWorker(Napi::Env env, FusedPlan* owner, Napi::Object ownerObject, const StepArgs& args, Napi::Value losses,
            Napi::Value x, Napi::Value y, bool inPlace)
      : Napi::AsyncWorker(env, "blasnet.FusedPlan.runSteps"),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        args_(args),
        lossesMade_(StateOf(env, losses)) {
    ownerRef_ = Napi::Persistent(ownerObject);
    lossesRef_ = Napi::Persistent(losses.As<Napi::Object>());
    if (inPlace) {
      xRef_ = Napi::Persistent(x.As<Napi::Object>());
      yRef_ = Napi::Persistent(y.As<Napi::Object>());
    }
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  Napi::Promise::Deferred deferred_;
  FusedPlan* owner_;
  Napi::ObjectReference ownerRef_;
  StepArgs args_;
  Napi::ObjectReference lossesRef_;
  Napi::ObjectReference xRef_, yRef_;
  ViewState lossesMade_;
  int64_t completed_ = 0;
};

class FusedPlan : public Napi::ObjectWrap<FusedPlan> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FusedPlan",
                       {InstanceMethod<&FusedPlan::RunSteps>("runSteps"), InstanceMethod<&FusedPlan::Forward>("forward"),
                        InstanceMethod<&FusedPlan::Dispose>("dispose"), InstanceAccessor<&FusedPlan::Busy>("busy"),
                        InstanceAccessor<&FusedPlan::CopiedRows>("copiedRows")});
  }

  explicit FusedPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FusedPlan>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2) ThrowType(env, "FusedPlan expects (spec, buffers)");
    SpecDesc spec = ParseSpec(info[0]);
    Napi::Object buffers = GetObject(info[1], "buffers");
    // Every property read first (a getter may run JavaScript), then the checks and copies.
    Napi::Value views[4] = {buffers.Get("params"), buffers.Get("grads"), buffers.Get("state"), buffers.Get("rngState")};
    GetF32(views[0], "buffers.params");
    GetF32(views[1], "buffers.grads");
    GetF32(views[2], "buffers.state");
    GetTyped<uint32_t>(views[3], napi_uint32_array, "Uint32Array", "buffers.rngState");
    const PlanError e = plan::ValidateSpec(spec, int64_t(StateOf(env, views[0]).length), int64_t(StateOf(env, views[1]).length),
                                           int64_t(StateOf(env, views[2]).length), int64_t(StateOf(env, views[3]).length));
    if (!e.ok()) Throw(env, e);
    try {
      for (int i = 0; i < 4; i++) buffers_[i].Init(env, kBufferNames[i], views[i], 4);
      engine_ = std::make_unique<plan::Plan>(spec, static_cast<float*>(buffers_[0].engine()), static_cast<float*>(buffers_[1].engine()),
                                             static_cast<float*>(buffers_[2].engine()), static_cast<uint32_t*>(buffers_[3].engine()));
    } catch (const std::bad_alloc&) {
      for (auto& b : buffers_) b.Reset();
      ThrowRange(env, "Cannot allocate the plan's workspaces for spec.batchSize = " + std::to_string(spec.batchSize));
    }
    bool hasDropout = false;
    for (const LayerDesc& l : spec.layers) hasDropout = hasDropout || l.kind == LayerKind::dropout;
    const uint32_t* rng = static_cast<const uint32_t*>(buffers_[3].engine());
    if (hasDropout && rng[0] == 0 && rng[1] == 0 && rng[2] == 0 && rng[3] == 0) {
      engine_.reset();
      for (auto& b : buffers_) b.Reset();
      ThrowRange(env, "Invalid buffers.rngState: all four words are zero (xoshiro128** needs a non-zero state)");
    }
  }

  // The run settled (on the calling thread): copy its losses and the mirrored buffers back.
  // Returns what could not be written back ("" if all was).
  std::string Settle(Napi::Env env, const Napi::ObjectReference& lossesRef, ViewState lossesMade, size_t lossCount) {
    busy_ = false;
    std::string lost;
    const ViewState now = StateOf(env, lossesRef.Value());
    if (now.data == lossesMade.data && now.length == lossesMade.length) {
      if (lossCount > 0) std::memcpy(now.data, losses_.data(), lossCount * sizeof(float));
    } else {
      lost = "run.losses";
    }
    for (const PlanBuffer& b : buffers_) {
      if (b.shared) continue;
      if (b.Intact(env)) b.CopyOut();
      else lost += (lost.empty() ? "" : ", ") + std::string(b.name);
    }
    return lost;
  }

  void Finish() { busy_ = false; }
  plan::Plan* engine() { return engine_.get(); }

 private:
  static constexpr const char* kBufferNames[4] = {"buffers.params", "buffers.grads", "buffers.state", "buffers.rngState"};

  void CheckUsable(Napi::Env env, const char* what) {
    if (!engine_) throw Napi::Error::New(env, std::string("Cannot call ") + what + ": this training plan was disposed");
    if (busy_) {
      throw Napi::Error::New(env, std::string("Cannot call ") + what +
                                      " while runSteps is in flight on this training plan; await it first");
    }
    for (const PlanBuffer& b : buffers_) {
      if (!b.Intact(env)) {
        throw Napi::Error::New(env, std::string("Cannot call ") + what + ": " + b.name +
                                        " was detached or resized after the plan was created; create a new plan");
      }
    }
  }

  Napi::Value RunSteps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) ThrowType(env, "runSteps expects (run)");
    Napi::Object run = GetObject(info[0], "run");
    // Every property read first (a getter may run JavaScript: transfer an array, dispose this plan),
    // then the checks and copies, with no JavaScript in between.
    Napi::Value xv = run.Get("x");
    Napi::Value yv = run.Get("y");
    Napi::Value orderv = run.Get("order");
    Napi::Value lrv = run.Get("lr");
    Napi::Value lossesv = run.Get("losses");
    Napi::Value weightsv = run.Get("weights");
    StepArgs a;
    a.rows = GetInt(run, "rows", "run.rows");
    a.start = GetInt(run, "start", "run.start");
    a.steps = GetInt(run, "steps", "run.steps");
    a.batchSize = GetInt(run, "batchSize", "run.batchSize");
    a.firstStep = GetInt(run, "firstStep", "run.firstStep");
    a.training = GetBool(run, "training", "run.training");
    GetF32(xv, "run.x");
    const bool yLabels = IsTyped(yv, napi_int32_array);
    if (!yLabels && !IsTyped(yv, napi_float32_array)) {
      ThrowType(env, "Expected a Float32Array or Int32Array for run.y but received " + Describe(yv));
    }
    GetTyped<int32_t>(orderv, napi_int32_array, "Int32Array", "run.order");
    GetF32(lrv, "run.lr");
    GetF32(lossesv, "run.losses");
    const bool weighted = !weightsv.IsUndefined() && !weightsv.IsNull();
    if (weighted) GetF32(weightsv, "run.weights");
    CheckUsable(env, "runSteps");
    const SpecDesc& spec = engine_->spec();
    const ViewState x = StateOf(env, xv), y = StateOf(env, yv), order = StateOf(env, orderv), lr = StateOf(env, lrv),
                    losses = StateOf(env, lossesv);
    const int64_t orderLength = int64_t(order.length);
    // The run's part of order and its learning rates, into the plan's memory; ValidateRun checks
    // those copies (start, steps and batchSize are not checked yet: the ranges are clamped).
    const int64_t begin = std::clamp<int64_t>(a.start, 0, orderLength);
    int64_t end = begin;
    if (a.steps > 0 && a.batchSize > 0) {
      end = (orderLength - begin) / a.batchSize < a.steps ? orderLength : begin + a.steps * a.batchSize;
    }
    const int64_t lrCount = std::clamp<int64_t>(a.steps, 0, int64_t(lr.length));
    try {
      if (int64_t(order_.size()) < orderLength) order_.resize(size_t(orderLength));
      if (int64_t(lr_.size()) < lrCount) lr_.resize(size_t(lrCount));
    } catch (const std::bad_alloc&) {
      ThrowRange(env, "Cannot allocate a copy of run.order (" + std::to_string(orderLength) + " values)");
    }
    if (end > begin) std::memcpy(order_.data() + begin, static_cast<const int32_t*>(order.data) + begin, size_t(end - begin) * sizeof(int32_t));
    if (lrCount > 0) std::memcpy(lr_.data(), lr.data, size_t(lrCount) * sizeof(float));
    a.order = order_.data();
    a.orderLength = orderLength;
    a.lr = lr_.data();
    a.x = static_cast<const float*>(x.data);
    if (yLabels) a.yLabels = static_cast<const int32_t*>(y.data);
    else a.yFloat = static_cast<const float*>(y.data);
    const PlanError e = plan::ValidateRun(spec, a, int64_t(x.length), int64_t(y.length), yLabels, int64_t(lr.length), int64_t(losses.length));
    if (!e.ok()) Throw(env, e);
    if (weighted) GatherWeights(env, a, StateOf(env, weightsv), end);
    const bool inPlace = IsSharedView(env, xv) && (yLabels || IsSharedView(env, yv));
    PrepareData(env, a, x, y, yLabels, end - a.start, inPlace);
    for (const PlanBuffer& b : buffers_) b.CopyIn();
    auto* worker = new RunWorker(env, this, Value(), a, lossesv, xv, yv, inPlace);
    Napi::Promise promise = worker->Promise();
    busy_ = true;
    worker->Queue();
    GatherRows();  // the worker's first step waits for its rows; later ones find theirs copied
    return promise;
  }

  // The run's row weights (run.weights, one per row of x), in run order from a.start to `end`,
  // into the plan's memory (a.weights): the worker reads only this copy.
  void GatherWeights(Napi::Env env, StepArgs& a, ViewState w, int64_t end) {
    if (int64_t(w.length) < a.rows) {
      ThrowRange(env, "run.weights has " + std::to_string(w.length) + " values; expected one per row (" + std::to_string(a.rows) + ")");
    }
    const int64_t used = std::max<int64_t>(end - a.start, 0);
    try {
      if (int64_t(weights_.size()) < used) weights_.resize(size_t(used));
    } catch (const std::bad_alloc&) {
      ThrowRange(env, "Cannot allocate a copy of run.weights (" + std::to_string(used) + " values)");
    }
    const float* src = static_cast<const float*>(w.data);
    for (int64_t i = 0; i < used; i++) weights_[size_t(i)] = src[a.order[a.start + i]];
    a.weights = weights_.data();
  }

  // Ready x and y of a validated run for the worker, before it is queued; everything that can fail
  // fails here. Not in place: the buffers for the `used` rows the run uses are allocated and `a`
  // is pointed at them (a.gathered: the engine trains on them in step order, without a gather of
  // its own), the class labels of those rows are gathered and checked as copied (this copy is what
  // the worker indexes with), and x and float y are left for GatherRows, after the worker is queued.
  //
  // inPlace (x, and y unless it holds class labels, over SharedArrayBuffers): nothing of x or y is
  // copied but the class labels (whole; they are indices); the worker reads x and y where they are
  // and gathers each batch itself.
  void PrepareData(Napi::Env env, StepArgs& a, ViewState x, ViewState y, bool yLabels, int64_t used, bool inPlace) {
    const SpecDesc& spec = engine_->spec();
    const int64_t inF = spec.inFeatures;
    const int64_t yWidth = yLabels ? 1 : spec.outFeatures;
    const int64_t classes = spec.outFeatures;
    auto badLabel = [&](int64_t r, int32_t c) {
      ThrowRange(env, plan::ClassIndexMessage(r, c, classes));
    };
    gatherFrom_ = {};
    if (inPlace) {
      try {
        if (yLabels && int64_t(labels_.size()) < a.rows) labels_.resize(size_t(a.rows));
        if (int64_t(losses_.size()) < a.steps) losses_.resize(size_t(a.steps));
      } catch (const std::bad_alloc&) {
        ThrowRange(env, yLabels ? "Cannot allocate a copy of the " + std::to_string(a.rows) + " class labels of run.y"
                                : std::string("Cannot allocate the run's losses"));
      }
      if (yLabels) {
        if (a.rows > 0) std::memcpy(labels_.data(), y.data, size_t(a.rows) * sizeof(int32_t));
        for (int64_t i = a.start; i < a.start + used; i++) {
          const int32_t c = labels_[size_t(order_[size_t(i)])];
          if (c < 0 || c >= classes) badLabel(order_[size_t(i)], c);
        }
        a.yLabels = labels_.data();
      } else {
        a.yFloat = static_cast<const float*>(y.data);
      }
      a.x = static_cast<const float*>(x.data);
      a.losses = losses_.data();
      copiedRows_ = 0;
      return;
    }
    try {
      if (int64_t(x_.size()) < used * inF) x_.resize(size_t(used * inF));
      if (yLabels && int64_t(labels_.size()) < used) labels_.resize(size_t(used));
      if (!yLabels && int64_t(y_.size()) < used * yWidth) y_.resize(size_t(used * yWidth));
      if (int64_t(losses_.size()) < a.steps) losses_.resize(size_t(a.steps));
      if (int64_t(rowOf_.size()) < used) rowOf_.resize(size_t(used));
    } catch (const std::bad_alloc&) {
      ThrowRange(env, "Cannot allocate a copy of the run's " + std::to_string(used) + " rows of run.x and run.y");
    }
    const int32_t* yl = static_cast<const int32_t*>(y.data);
    for (int64_t i = 0; i < used; i++) {
      const int32_t r = order_[size_t(a.start + i)];
      rowOf_[size_t(i)] = r;
      if (yLabels) {
        const int32_t c = yl[r];
        if (c < 0 || c >= classes) badLabel(r, c);
        labels_[size_t(i)] = c;
      }
    }
    // The engine trains on the copies as they are (a.gathered); the order it is given counts
    // 0, 1, ... so that its own gather, were it used, reads the same rows.
    for (int64_t i = 0; i < used; i++) order_[size_t(i)] = int32_t(i);
    a.start = 0;
    a.orderLength = used;
    a.rows = used;
    a.gathered = true;
    a.x = x_.data();
    if (yLabels) a.yLabels = labels_.data();
    else a.yFloat = y_.data();
    a.losses = losses_.data();
    copiedRows_ = used;
    rowsReady_.store(0, std::memory_order_relaxed);
    a.rowsReady = &rowsReady_;
    gatherFrom_ = {static_cast<const float*>(x.data), yLabels ? nullptr : static_cast<const float*>(y.data), used, a.batchSize};
  }

  // The rows PrepareData left for after the worker was queued: x's (and float y's) rows of the run,
  // in step order, into the plan's memory, while the worker trains on those already there. Still
  // inside runSteps, so no JavaScript runs (nothing can detach or resize x or y) until every row is
  // copied. Each batch is published with a release store of the rows written so far (rowsReady_),
  // which the engine's step waits for (StepArgs::rowsReady); it then reads rows just written, from
  // the shared cache. Nothing here can fail: every index was checked and every buffer allocated.
  void GatherRows() {
    const Gather g = gatherFrom_;
    gatherFrom_ = {};
    if (g.used <= 0) return;
    const SpecDesc& spec = engine_->spec();
    const int64_t inF = spec.inFeatures;
    const int64_t yWidth = spec.outFeatures;
    const int pace = gCopyPaceMicros.load(std::memory_order_relaxed);
    // A row of a few values is copied by a loop (a call to memcpy per row made T1's runs, 1 value a
    // row, about 10% slower in CPU time); wider ones by memcpy.
    auto copyRow = [](float* dst, const float* src, int64_t n) {
      if (n >= 16) {
        std::memcpy(dst, src, size_t(n) * sizeof(float));
      } else {
        for (int64_t j = 0; j < n; j++) dst[j] = src[j];
      }
    };
    // Rows sit at random places in x: for wide rows, prefetch the row 4 ahead (as the engine's own
    // gather does) so its cache misses overlap the copies.
    constexpr int64_t kPrefetchRows = 4;
    for (int64_t b0 = 0; b0 < g.used; b0 += g.batchSize) {
      const int64_t b1 = std::min(g.used, b0 + g.batchSize);
      if (pace > 0) std::this_thread::sleep_for(std::chrono::microseconds(pace));
      for (int64_t i = b0; i < b1; i++) {
        if (inF >= 64 && i + kPrefetchRows < g.used) {
          const char* next = reinterpret_cast<const char*>(g.x + int64_t(rowOf_[size_t(i + kPrefetchRows)]) * inF);
          for (int64_t b = 0; b < inF * int64_t(sizeof(float)); b += 64) __builtin_prefetch(next + b);
        }
        const int64_t r = rowOf_[size_t(i)];
        copyRow(x_.data() + i * inF, g.x + r * inF, inF);
        if (g.yFloat) copyRow(y_.data() + i * yWidth, g.yFloat + r * yWidth, yWidth);
      }
      rowsReady_.store(b1, std::memory_order_release);
    }
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckUsable(env, "forward");
    if (info.Length() < 3) ThrowType(env, "forward expects (out, x, rows)");
    Napi::Float32Array out = GetF32(info[0], "out");
    Napi::Float32Array x = GetF32(info[1], "x");
    if (!info[2].IsNumber()) ThrowType(env, "Expected a number for rows but received " + Describe(info[2]));
    const double r = info[2].As<Napi::Number>().DoubleValue();
    const SpecDesc& spec = engine_->spec();
    if (!(r >= 0 && r <= double(spec.batchSize) && r == std::trunc(r))) {
      ThrowRange(env, "Expected an integer in [0, " + std::to_string(spec.batchSize) + "] (the plan's batch size) for rows but received " +
                          Describe(info[2]));
    }
    const int64_t rows = int64_t(r);
    if (int64_t(x.ElementLength()) < rows * spec.inFeatures) {
      ThrowRange(env, "Invalid x: expected at least " + std::to_string(rows * spec.inFeatures) + " values (rows x inFeatures) but received " +
                          std::to_string(x.ElementLength()));
    }
    if (int64_t(out.ElementLength()) < rows * spec.outFeatures) {
      ThrowRange(env, "Invalid out: expected at least " + std::to_string(rows * spec.outFeatures) + " values (rows x outFeatures) but received " +
                          std::to_string(out.ElementLength()));
    }
    // On this thread: no JavaScript runs until it returns. The engine reads the parameters only.
    buffers_[0].CopyIn();
    engine_->Forward(out.Data(), x.Data(), rows);
    return env.Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (busy_) throw Napi::Error::New(env, "Cannot dispose this training plan while runSteps is in flight; await it first");
    engine_.reset();
    for (auto& b : buffers_) b.Reset();
    std::vector<int32_t>().swap(order_);
    std::vector<int32_t>().swap(labels_);
    std::vector<int32_t>().swap(rowOf_);
    std::vector<float>().swap(weights_);
    std::vector<float>().swap(lr_);
    std::vector<float>().swap(losses_);
    std::vector<float>().swap(x_);
    std::vector<float>().swap(y_);
    return env.Undefined();
  }

  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }
  Napi::Value CopiedRows(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(copiedRows_)); }

  std::unique_ptr<plan::Plan> engine_;
  PlanBuffer buffers_[4];  // params, grads, state, rngState
  // The run in flight's inputs and losses (one run at a time), reused from run to run.
  std::vector<int32_t> order_;   // (order.length): the run's part of order, at its own indices
  std::vector<float> lr_;        // (steps)
  std::vector<float> weights_;   // (the run's rows): run.weights in run order
  std::vector<float> losses_;    // (steps)
  std::vector<float> x_, y_;     // (rows, inFeatures), (rows, outFeatures): whole or gathered
  std::vector<int32_t> labels_;  // (rows) class labels, checked: gathered, or whole when in place
  std::vector<int32_t> rowOf_;   // (the run's rows): the row of x each copied row comes from
  // The rows of x (and float y) left to copy after the worker is queued (GatherRows), and how many
  // of them are written, counted from the run's first (read by the worker: StepArgs::rowsReady).
  struct Gather {
    const float* x = nullptr;
    const float* yFloat = nullptr;
    int64_t used = 0;
    int64_t batchSize = 1;
  } gatherFrom_;
  std::atomic<int64_t> rowsReady_{0};
  bool busy_ = false;
  int64_t copiedRows_ = 0;  // rows of run.x the last run copied on the calling thread (0: read in place)
};

void RunWorker::Execute() { completed_ = owner_->engine()->RunSteps(args_); }

void RunWorker::OnOK() {
  Napi::Env env = Env();
  // Losses written: those of the completed steps and of the step whose loss was not finite.
  const size_t lossCount = size_t(std::min(args_.steps, completed_ + 1));
  const std::string lost = owner_->Settle(env, lossesRef_, lossesMade_, lossCount);
  if (!lost.empty()) {
    deferred_.Reject(Napi::Error::New(env, "Cannot write back the results of runSteps: " + lost +
                                               " was detached (transferred) or resized while the run was in flight; the arrays of a "
                                               "plan and of a run must stay as they are until its promise settles. Create a new plan "
                                               "over arrays that stay")
                         .Value());
    return;
  }
  deferred_.Resolve(Napi::Number::New(env, double(completed_)));
}

void RunWorker::OnError(const Napi::Error& e) {
  owner_->Finish();
  deferred_.Reject(e.Value());
}

Napi::Value PlanFastMath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) ThrowType(env, "planFastMath expects (fn, out, x)");
  if (!info[0].IsNumber()) ThrowType(env, "Expected a number for fn but received " + Describe(info[0]));
  const double fn = info[0].As<Napi::Number>().DoubleValue();
  if (!(fn == 0 || fn == 1 || fn == 2)) ThrowRange(env, "Expected 0 (exp), 1 (sigmoid) or 2 (tanh) for fn but received " + Describe(info[0]));
  Napi::Float32Array out = GetF32(info[1], "out");
  Napi::Float32Array x = GetF32(info[2], "x");
  if (out.ElementLength() < x.ElementLength()) {
    ThrowRange(env, "Invalid out: expected at least " + std::to_string(x.ElementLength()) + " values (x's length) but received " +
                        std::to_string(out.ElementLength()));
  }
  plan::FastMathApply(int(fn), out.Data(), x.Data(), int64_t(x.ElementLength()));
  return env.Undefined();
}

// planCopyPace(micros): the test hook gCopyPaceMicros (see there); returns the previous value.
Napi::Value PlanCopyPace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double v = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(v >= 0 && v <= 1e6 && v == std::trunc(v))) {
    ThrowRange(env, "Expected an integer in [0, 1000000] (microseconds) for micros but received " +
                        (info.Length() > 0 ? Describe(info[0]) : std::string("nothing")));
  }
  return Napi::Number::New(env, gCopyPaceMicros.exchange(int(v)));
}

// planActivation(code, alpha, y, dx, db, x, dy, rows, cols): the plan's activation passes (see
// plan::ActivationApply), for the tests that hold them to the per-kernel entry points.
Napi::Value PlanActivation(const Napi::CallbackInfo& info) {
  check::Args args(info, "planActivation", 9);
  const int code = args.Code(0, "act", kActivationKinds, "activation code");
  const double alpha = args.Finite(1, "alpha");
  const check::View<float> y = args.F32(2, "y");
  const check::View<float> dx = args.F32(3, "dx");
  const check::View<float> db = args.F32(4, "db");
  const check::View<float> x = args.F32(5, "x");
  const check::View<float> dy = args.F32(6, "dy");
  const int64_t rows = args.Dim(7, "rows");
  const int64_t cols = args.Dim(8, "cols");
  const int64_t n = args.Product(rows, cols, "rows*cols");
  args.Length(y, n, "rows*cols");
  args.Length(dx, n, "rows*cols");
  args.Length(db, cols, "cols");
  args.Length(x, n, "rows*cols");
  args.Length(dy, n, "rows*cols");
  plan::ActivationApply(Activation(code), float(alpha), y.data, dx.data, db.data, x.data, dy.data, rows, cols);
  return info.Env().Undefined();
}

}  // namespace

void RegisterPlan(Napi::Env env, Napi::Object exports) {
  exports.Set("FusedPlan", FusedPlan::Define(env));
  exports.Set("planFastMath", Napi::Function::New<PlanFastMath>(env, "planFastMath"));
  exports.Set("planActivation", Napi::Function::New<PlanActivation>(env, "planActivation"));
  exports.Set("planCopyPace", Napi::Function::New<PlanCopyPace>(env, "planCopyPace"));
}

}  // namespace blasnet
