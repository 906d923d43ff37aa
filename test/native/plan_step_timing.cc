// Times the fused plan's T5 step (the CNN, batch 64, Adam) against its GEMM-only bound: the
// GEMMs of one step (whole-batch im2col shapes, and the dense layers'), each timed alone. A
// measuring tool, not a test (nothing here is asserted). Build and run, from the repository root:
//
//   g++ -std=c++17 -O3 -fopenmp-simd -fno-math-errno -fno-trapping-math -Inative \
//     test/native/plan_step_timing.cc native/plan_compile.cc native/plan_regions.cc native/plan_steps.cc \
//     native/plan_threads.cc native/plan_validate.cc \
//     $(pkg-config --cflags --libs openblas) -o /tmp/plan_step_timing && /tmp/plan_step_timing [threads] [steps]
//
// (-DBLASNET_CONV_CHUNK_KB=n sets the conv chunk size to try; see native/steps/conv2d.h.
// -DBLASNET_PHASE_TIMING adds the per-phase table: each step's forward and backward pass, the loss
// and the update, in ms per training step (native/plan_phase_timing.h; the hooks' own cost, about
// 40 ns each, is in the step time it prints then).)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "cnn_specs.h"
#include "ops/optimizers.h"
#include "plan.h"
#include "plan_phase_timing.h"
#include "plan_threads.h"
#include "steps/conv2d.h"  // BLASNET_CONV_CHUNK_KB

using namespace blasnet;
using namespace blasnet::plan;

static double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
static double CpuNow() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

static uint32_t g_seed = 1;
static float Uniform() {
  g_seed = g_seed * 1664525u + 1013904223u;
  return float(g_seed >> 8) / 16777216.0f - 0.5f;
}

// Best of `reps` of C (m, n) = A (m, k) B (k, n) with the given transposes, seconds.
static double TimeGemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, int reps) {
  std::vector<float> a(size_t(m) * k), b(size_t(k) * n), c(size_t(m) * n);
  for (auto& v : a) v = Uniform();
  for (auto& v : b) v = Uniform();
  double best = 1e9;
  for (int r = 0; r < reps; r++) {
    const double t0 = Now();
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a.data(), ta == CblasNoTrans ? k : m, b.data(), tb == CblasNoTrans ? n : k,
                1.0f, c.data(), n);
    best = std::min(best, Now() - t0);
  }
  return best;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 40;
  // "solo": the whole run with OpenBLAS on one thread (threads::BlasSolo), dense layers included.
  const bool solo = argc > 3 && std::string(argv[3]) == "solo";
  openblas_set_num_threads(threads);
  const int64_t B = 64;
  cnn::Builder b = cnn::T5(B);
  SpecDesc spec = b.spec;
  const int64_t P = spec.paramCount;
  std::vector<float> params(static_cast<size_t>(P)), grads(static_cast<size_t>(P)), state(static_cast<size_t>(2 * P));
  for (auto& v : params) v = 0.05f * Uniform();
  std::vector<uint32_t> rng = {1, 2, 3, 4};
  const PlanError e = ValidateSpec(spec, P, P, 2 * P, 4);
  if (!e.ok()) {
    std::printf("invalid spec: %s\n", e.message.c_str());
    return 1;
  }
  const int64_t rows = B * steps;
  std::vector<float> x(static_cast<size_t>(rows * spec.inFeatures));
  for (auto& v : x) v = Uniform() + 0.5f;
  std::vector<int32_t> labels(static_cast<size_t>(rows)), order(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; i++) {
    labels[size_t(i)] = int32_t(i % 10);
    order[size_t(i)] = int32_t(i);
  }
  std::vector<float> lr(static_cast<size_t>(steps), 1e-3f), losses(static_cast<size_t>(steps));
  StepArgs run;
  run.x = x.data();
  run.yLabels = labels.data();
  run.rows = rows;
  run.order = order.data();
  run.orderLength = rows;
  run.steps = steps;
  run.batchSize = B;
  run.lr = lr.data();
  run.losses = losses.data();
  run.gathered = true;
  Plan plan(spec, params.data(), grads.data(), state.data(), rng.data());
  run.steps = 3;
  plan.RunSteps(run);  // warm-up
  run.steps = steps;
  double best = 1e9;
  double cpuTotal = 0;
#ifdef BLASNET_PHASE_TIMING
  phase::g_totals = phase::Totals();
#endif
  for (int rep = 0; rep < 3; rep++) {
    run.firstStep = 4 + rep * steps;
    const double c0 = CpuNow(), t0 = Now();
    if (solo) {
      threads::BlasSolo one;
      plan.RunSteps(run);
    } else {
      plan.RunSteps(run);
    }
    const double t = (Now() - t0) / steps;
    cpuTotal += (CpuNow() - c0) / steps;
    best = std::min(best, t);
  }
#ifdef BLASNET_PHASE_TIMING
  {
    // The plan's steps as plan_compile.cc forms them: a dense or conv2d step takes the activation
    // step right after it.
    std::vector<std::string> names;
    for (size_t i = 0; i < spec.layers.size(); i++) {
      const LayerKind k = spec.layers[i].kind;
      std::string name = kLayerKinds[int(k)].name;
      if ((k == LayerKind::dense || k == LayerKind::conv2d) && i + 1 < spec.layers.size() &&
          spec.layers[i + 1].kind == LayerKind::activation) {
        name += " + activation";
        i++;
      }
      names.push_back(std::to_string(names.size()) + " " + name);
    }
    const double per = 1e3 / (3.0 * steps);
    const phase::Totals& t = phase::g_totals;
    std::printf("  ms per step, mean of the 3 rounds' steps; wall, then the calling thread's CPU (at 1 thread: the phase's work)\n");
    std::printf("  %-28s %9s %9s %9s %9s\n", "step", "fwd wall", "fwd cpu", "bwd wall", "bwd cpu");
    phase::Time sum = {t.loss.wall + t.update.wall, t.loss.cpu + t.update.cpu};
    for (size_t i = 0; i < names.size(); i++) {
      const phase::Time f = t.forward[i], b = t.backward[i];
      std::printf("  %-28s %9.3f %9.3f %9.3f %9.3f\n", names[i].c_str(), f.wall * per, f.cpu * per, b.wall * per, b.cpu * per);
      sum.wall += f.wall + b.wall;
      sum.cpu += f.cpu + b.cpu;
    }
    std::printf("  %-28s %9.3f %9.3f\n", "loss", t.loss.wall * per, t.loss.cpu * per);
    std::printf("  %-28s %9.3f %9.3f   (backward includes each step's update when the plan fuses it)\n", "update",
                t.update.wall * per, t.update.cpu * per);
    std::printf("  %-28s %9.3f %9.3f\n", "sum of phases", sum.wall * per, sum.cpu * per);
  }
#endif
  // The GEMM-only bound: the step's GEMMs on the whole batch, each alone (best of 5).
  struct G {
    const char* name;
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k;
  };
  const G gemms[] = {
      {"conv1 forward  W cols", CblasNoTrans, CblasNoTrans, 32, 64 * 784, 9},
      {"conv1 dW  dY' cols^T", CblasNoTrans, CblasTrans, 32, 9, 64 * 784},
      {"conv2 forward  W cols", CblasNoTrans, CblasNoTrans, 64, 64 * 196, 288},
      {"conv2 dW  dY' cols^T", CblasNoTrans, CblasTrans, 64, 288, 64 * 196},
      {"conv2 dcols  W^T dY'", CblasTrans, CblasNoTrans, 288, 64 * 196, 64},
      {"dense1 forward", CblasNoTrans, CblasTrans, 64, 128, 3136},
      {"dense1 dW", CblasTrans, CblasNoTrans, 128, 3136, 64},
      {"dense1 dX", CblasNoTrans, CblasNoTrans, 64, 3136, 128},
      {"dense2 forward", CblasNoTrans, CblasTrans, 64, 10, 128},
      {"dense2 dW", CblasTrans, CblasNoTrans, 10, 128, 64},
      {"dense2 dX", CblasNoTrans, CblasNoTrans, 64, 128, 10},
  };
  double bound = 0, flops = 0;
  for (const G& g : gemms) {
    const double t = TimeGemm(g.ta, g.tb, g.m, g.n, g.k, 5);
    bound += t;
    flops += 2.0 * g.m * g.n * g.k;
    std::printf("  %-24s %6d x %6d x %6d  %8.1f us  %6.1f GFLOP/s\n", g.name, g.m, g.n, g.k, t * 1e6, 2.0 * g.m * g.n * g.k / t * 1e-9);
  }
  std::printf("T5 step (batch 64, %d threads, conv chunk %d KB): best %.2f ms (%.0f samples/s), process CPU %.2f ms/step;"
              " GEMM-only bound %.2f ms (%.1f GFLOP/s): %.0f%% of the bound; loss %g\n",
              threads, int(BLASNET_CONV_CHUNK_KB), best * 1e3, B / best, cpuTotal / 3 * 1e3, bound * 1e3, flops / bound * 1e-9,
              100 * bound / best, double(losses[size_t(steps - 1)]));
  return 0;
}
