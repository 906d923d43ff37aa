// The thread count, BlasSolo and Team of plan_threads.h.
#include "plan_threads.h"

#include <cblas.h>

#include <system_error>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace blasnet {
namespace threads {
namespace {

std::mutex g_mu;
int g_solo = 0;   // BlasSolo regions in flight
int g_saved = 1;  // the thread count to restore when the last one ends

// The floating-point control mode of the calling thread (MXCSR; FPCR on AArch64): flush-to-zero
// is set per thread (flush_denormals.h), and a worker must compute as its caller does.
unsigned long long GetFpMode() {
#if defined(__SSE__) || defined(__x86_64__)
  return _mm_getcsr();
#elif defined(__aarch64__)
  unsigned long long v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  return v;
#else
  return 0;
#endif
}

void SetFpMode(unsigned long long v) {
#if defined(__SSE__) || defined(__x86_64__)
  _mm_setcsr(unsigned(v));
#elif defined(__aarch64__)
  __asm__ __volatile__("msr fpcr, %0" : : "r"(v));
#else
  (void)v;
#endif
}

inline void Pause() {
#if defined(__SSE__) || defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Polls before blocking: a step's regions follow each other within microseconds (a conv step, then
// its pooling step), and waking a blocked thread costs about as much as a small region.
constexpr int kSpins = 4000;

}  // namespace

int Count() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_solo > 0 ? g_saved : openblas_get_num_threads();
}

void SetCount(int n) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_solo > 0) {
    g_saved = n;
  } else {
    openblas_set_num_threads(n);
  }
}

BlasSolo::BlasSolo() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_solo++ == 0) {
    g_saved = openblas_get_num_threads();
    if (g_saved != 1) openblas_set_num_threads(1);
  }
}

BlasSolo::~BlasSolo() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (--g_solo == 0 && g_saved != 1) openblas_set_num_threads(g_saved);
}

Team::Team(int size) {
  for (int t = 1; t < size; t++) {
    try {
      workers_.emplace_back([this, t] { Work(t); });
    } catch (const std::system_error&) {
      break;  // run with the workers started so far
    }
  }
}

Team::~Team() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void Team::Run(int n, Fn fn, void* ctx) {
  if (n > size()) n = size();
  if (n <= 1) {
    fn(ctx, 0);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  fpMode_ = GetFpMode();
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  std::exception_ptr mine;
  try {
    fn(ctx, 0);
  } catch (...) {
    mine = std::current_exception();
  }
  for (int i = 0; i < kSpins && pending_.load(std::memory_order_acquire) != 0; i++) Pause();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  std::exception_ptr theirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    theirs = error_;
    error_ = nullptr;
  }
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

void Team::Work(int t) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int i = 0; i < kSpins && g == seen; i++) {
      Pause();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (t < n_) {
      SetFpMode(fpMode_);
      try {
        fn_(ctx_, t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_.notify_one();
    }
  }
}

}  // namespace threads
}  // namespace blasnet
