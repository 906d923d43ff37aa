// The fused plan allocates nothing per step: the engine (native/plan_*.cc but the N-API files) linked alone (no N-API) into this
// program, whose malloc / calloc / realloc / aligned_alloc / posix_memalign / memalign see every
// heap allocation of the process (every thread) before handing it to glibc.
// For each workload: build the plan (its one-time allocations), run one epoch (OpenBLAS's own
// first-call set-up), then count the allocations made by blasnet's code during five more epochs
// and a forward pass: it must be 0.
// Built and run by test/native-no-alloc.test.ts; prints one line per workload, exits 1 on failure.
#include <cblas.h>
#include <dlfcn.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cnn_specs.h"
#include "ops/optimizers.h"
#include "plan.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

// Counting is on only while a measured run executes. Each allocation is attributed by its caller:
// blasnet's code (the plan, libstdc++ on its behalf) or OpenBLAS itself (whose threaded level-3
// drivers, sgemm_thread_*, malloc a job array on every call in Debian's build: not ours to avoid).
static std::atomic<bool> g_counting{false};
static std::atomic<long> g_ours{0};
static std::atomic<long> g_openblas{0};
static thread_local bool t_inHook = false;

static void Count(void* caller) {
  if (!g_counting.load(std::memory_order_relaxed) || t_inHook) return;
  t_inHook = true;
  Dl_info info;
  const bool blas = dladdr(caller, &info) != 0 && info.dli_fname != nullptr && std::strstr(info.dli_fname, "openblas") != nullptr;
  (blas ? g_openblas : g_ours).fetch_add(1, std::memory_order_relaxed);
  t_inHook = false;
}

extern "C" {
void* malloc(size_t n) {
  Count(__builtin_return_address(0));
  return __libc_malloc(n);
}
void* calloc(size_t count, size_t n) {
  Count(__builtin_return_address(0));
  return __libc_calloc(count, n);
}
void* realloc(void* p, size_t n) {
  Count(__builtin_return_address(0));
  return __libc_realloc(p, n);
}
void free(void* p) { __libc_free(p); }
void* memalign(size_t align, size_t n) {
  Count(__builtin_return_address(0));
  return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) {
  Count(__builtin_return_address(0));
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
  Count(__builtin_return_address(0));
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}

using namespace blasnet;
using namespace blasnet::plan;

struct Net {
  const char* name;
  std::vector<int64_t> widths;  // inFeatures, hidden..., outFeatures
  Activation act;
  bool dropout;
  Loss loss;
  Optimizer optimizer;
  std::vector<double> hyper;  // the optimizer's, in ops/optimizers.h's BN_OPTIMIZERS order
  double clipNorm;
  double clipValue;
  int64_t batch;
};

static uint32_t g_seed = 12345;
static float Uniform() {
  g_seed = g_seed * 1664525u + 1013904223u;
  return float(g_seed >> 8) / 16777216.0f - 0.5f;
}

static bool CheckSpec(const char* name, SpecDesc spec, int64_t batch, Loss loss, const cnn::Builder* cnnInit);

static bool Check(const Net& net) {
  SpecDesc spec;
  spec.inFeatures = net.widths.front();
  spec.outFeatures = net.widths.back();
  spec.batchSize = net.batch;
  int64_t offset = 0;
  for (size_t i = 0; i + 1 < net.widths.size(); i++) {
    LayerDesc d;
    d.kind = LayerKind::dense;
    d.inFeatures = net.widths[i];
    d.outFeatures = net.widths[i + 1];
    d.weightOffset = offset;
    offset += d.inFeatures * d.outFeatures;
    d.biasOffset = offset;
    offset += d.outFeatures;
    spec.layers.push_back(d);
    if (i + 2 < net.widths.size()) {
      LayerDesc a;
      a.kind = LayerKind::activation;
      a.activation = net.act;
      a.alpha = 0.01;
      spec.layers.push_back(a);
      if (net.dropout) {
        LayerDesc dr;
        dr.kind = LayerKind::dropout;
        dr.rate = 0.2;
        spec.layers.push_back(dr);
      }
    }
  }
  spec.paramCount = offset;
  spec.loss = net.loss;
  spec.huberDelta = 1;
  spec.optimizer = net.optimizer;
  for (int h = 0; h < kOptimizerHyperCount; h++) spec.hyper[h] = net.hyper[size_t(h)];
  spec.clipNorm = net.clipNorm;
  spec.clipValue = net.clipValue;
  return CheckSpec(net.name, spec, net.batch, net.loss, nullptr);
}

static bool CheckSpec(const char* name, SpecDesc spec, int64_t batch, Loss loss, const cnn::Builder* cnnInit) {
  const int64_t P = spec.paramCount;
  std::vector<float> params(static_cast<size_t>(P)), grads(static_cast<size_t>(P));
  std::vector<float> state(static_cast<size_t>(blasnet::ops::OptimizerSlots(spec.optimizer, spec.hyper) * P) + 1);
  for (auto& v : params) v = 0.1f * Uniform();
  if (cnnInit) cnnInit->Init(params);
  std::vector<uint32_t> rng = {1, 2, 3, 4};
  const PlanError e = ValidateSpec(spec, P, P, int64_t(state.size()), 4);
  if (!e.ok()) {
    std::printf("%s: invalid spec: %s\n", name, e.message.c_str());
    return false;
  }

  const int64_t rows = 4 * batch + 3;  // a partial last batch
  const int64_t inF = spec.inFeatures, outF = spec.outFeatures;
  std::vector<float> x(static_cast<size_t>(rows * inF)), y(static_cast<size_t>(rows * outF));
  std::vector<int32_t> labels(static_cast<size_t>(rows)), order(static_cast<size_t>(rows));
  for (auto& v : x) v = Uniform();
  for (auto& v : y) v = Uniform() + 0.5f;  // in [0, 1): also valid BCE targets
  for (int64_t i = 0; i < rows; i++) {
    labels[static_cast<size_t>(i)] = int32_t(i % outF);
    order[static_cast<size_t>(i)] = int32_t((i * 7) % rows);
  }
  const int64_t steps = (rows + batch - 1) / batch;
  std::vector<float> lr(static_cast<size_t>(steps), 0.01f), losses(static_cast<size_t>(steps));
  StepArgs run;
  run.x = x.data();
  if (loss == Loss::crossEntropy) run.yLabels = labels.data();
  else run.yFloat = y.data();
  run.rows = rows;
  run.order = order.data();
  run.orderLength = rows;
  run.start = 0;
  run.steps = steps;
  run.batchSize = batch;
  run.lr = lr.data();
  run.losses = losses.data();
  const PlanError re = ValidateRun(spec, run, int64_t(x.size()), loss == Loss::crossEntropy ? rows : int64_t(y.size()),
                                   loss == Loss::crossEntropy, steps, steps);
  if (!re.ok()) {
    std::printf("%s: invalid run: %s\n", name, re.message.c_str());
    return false;
  }

  Plan plan(spec, params.data(), grads.data(), state.data(), rng.data());
  run.firstStep = 1;
  if (plan.RunSteps(run) != steps) {  // warm-up: OpenBLAS's first-call buffers
    std::printf("%s: warm-up run stopped early\n", name);
    return false;
  }
  std::vector<float> out(static_cast<size_t>(batch * outF));
  g_ours = 0;
  g_openblas = 0;
  g_counting = true;
  int64_t done = 0;
  for (int epoch = 0; epoch < 5; epoch++) {
    run.firstStep = 1 + (epoch + 1) * steps;
    done += plan.RunSteps(run);
  }
  plan.Forward(out.data(), x.data(), batch);
  g_counting = false;
  const long ours = g_ours.load(), openblas = g_openblas.load();
  std::printf("%s: %lld steps + a forward pass: %ld allocations by blasnet, %ld inside OpenBLAS; loss %g\n", name,
              static_cast<long long>(done), ours, openblas, double(losses[static_cast<size_t>(steps - 1)]));
  return ours == 0 && done == 5 * steps;
}

int main() {
  const std::vector<double> plainSgd = {0, 0, 0, 0};
  const std::vector<double> adamHyper = {0.9, 0.999, 1e-8, 0};
  const Net nets[] = {
      {"lecture 1-3-1 sigmoid mse sgd (loop GEMMs)", {1, 3, 1}, Activation::sigmoid, false, Loss::mse, Optimizer::sgd, plainSgd, 0, 0, 10},
      {"mlp 64-128-64-10 relu ce adam clipNorm+clipValue", {64, 128, 64, 10}, Activation::relu, false, Loss::crossEntropy, Optimizer::adam, adamHyper, 1.0, 0.5, 32},
      {"64-300-8 tanh dropout huber sgd nesterov wd", {64, 300, 8}, Activation::tanh, true, Loss::huber, Optimizer::sgd, {0.9, 0, 1, 1e-4}, 0, 0, 16},
      {"256-512-256 gelu mse sgd (P >= 65536: per-layer update, saxpy)", {256, 512, 256}, Activation::gelu, false, Loss::mse, Optimizer::sgd, plainSgd, 0, 0, 64},
      {"32-64-4 leakyRelu bce rmsprop clipNorm", {32, 64, 4}, Activation::leakyRelu, false, Loss::bce, Optimizer::rmsprop, {0.99, 1e-8, 0, 0}, 2.0, 0, 8},
      {"32-48-6 relu mae adamw", {32, 48, 6}, Activation::relu, false, Loss::mae, Optimizer::adamw, {0.9, 0.999, 1e-8, 0.01}, 0, 0, 8},
      {"32-40-5 silu ce-dense adagrad wd", {32, 40, 5}, Activation::silu, false, Loss::crossEntropyDense, Optimizer::adagrad, {0.01, 1e-4, 1e-10, 0.1}, 0, 0, 8},
      {"16-24-3 softplus mse rmsprop momentum", {16, 24, 3}, Activation::softplus, false, Loss::mse, Optimizer::rmsprop, {0.9, 1e-8, 1e-3, 0.5}, 0, 0, 8},
  };
  // Convolutional plans: T5 (conv in chunks, fused relu, max pooling) and every image step.
  const cnn::Builder t5 = cnn::T5(16);
  const cnn::Builder mixed = cnn::Mixed(6);
  bool ok = true;
  for (int threads : {1, 2}) {
    openblas_set_num_threads(threads);
    std::printf("threads %d\n", threads);
    for (const Net& net : nets) ok = Check(net) && ok;
    ok = CheckSpec("T5 cnn conv relu maxpool dense adam", t5.spec, 16, Loss::crossEntropy, &t5) && ok;
    ok = CheckSpec("conv batchNorm maxPool residual(conv layerNorm) avgPool dense adamw, frozen running stats", mixed.spec, 6, Loss::crossEntropy, &mixed) && ok;
  }
  std::printf(ok ? "OK\n" : "FAILED\n");
  return ok ? 0 : 1;
}
