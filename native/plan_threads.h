// Threads of blasnet's own, for the fused plan's convolution and pooling steps: the thread count
// blasnet runs with (setThreads), OpenBLAS held at one thread while such a step runs, and a small
// persistent team of threads that runs one function on every member. Plain C++ (no N-API).
//
// Why: OpenBLAS parallelizes each GEMM of a conv step's chunk loop on its own, and everything between
// the GEMMs (im2col, col2im, the moves to NCHW, bias and activation, pooling) ran on one core while
// the other waited. Splitting a step's samples over our own threads, each calling single-threaded
// GEMMs on its own chunks, keeps both cores on the whole step (see native/steps/conv2d.h).
//
// OpenBLAS 0.3.21's thread count is process-wide (openblas_set_num_threads), so a region that wants
// single-threaded GEMMs sets it to 1 for everyone: BlasSolo counts the regions in flight (over every
// plan and thread) and restores the count when the last one ends; SetCount made during a region takes
// effect at its end. Two plans running at once stay correct (each has its own team and workspaces);
// GEMMs outside their regions then may run on one thread while the other plan is in a region.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace blasnet {
namespace threads {

/// The thread count blasnet runs with: what setThreads last set (OpenBLAS's count; its default is
/// the number of cores, or OPENBLAS_NUM_THREADS).
int Count();

/// Sets the thread count (OpenBLAS's now, or when the BlasSolo regions in flight have ended).
void SetCount(int n);

/// While one exists (on any thread), OpenBLAS runs every GEMM on the calling thread.
class BlasSolo {
 public:
  BlasSolo();
  ~BlasSolo();
  BlasSolo(const BlasSolo&) = delete;
  BlasSolo& operator=(const BlasSolo&) = delete;
};

/// size - 1 persistent worker threads, started once. Run(n, fn, ctx) calls fn(ctx, t) for t in
/// [0, n): t = 0 on the calling thread, t >= 1 on worker t; it returns when every call has returned,
/// and rethrows on the calling thread the first exception any of them threw (none crosses a thread).
/// Workers take the caller's floating-point mode (flush-to-zero) for each region. Nothing is allocated
/// per region. One Run at a time per team (the plan's runs are serialized by its busy flag).
class Team {
 public:
  using Fn = void (*)(void* ctx, int t);

  /// Starts size - 1 workers (fewer if the system refuses to start more: size() tells).
  explicit Team(int size);
  /// Stops and joins the workers.
  ~Team();
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  int size() const { return int(workers_.size()) + 1; }
  void Run(int n, Fn fn, void* ctx);

 private:
  void Work(int t);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;  // a new region (or stop)
  std::condition_variable done_;  // the last worker finished the region
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers still in the region
  bool stop_ = false;            // under mu_
  // The region: written by Run before generation_ is bumped (release), read by workers after (acquire).
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  int n_ = 0;
  unsigned long long fpMode_ = 0;
  std::exception_ptr error_;  // under mu_
};

}  // namespace threads
}  // namespace blasnet
