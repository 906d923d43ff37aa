// Optional timing of the fused plan's phases (each step's forward and backward pass, the loss, the
// update), compiled in only with -DBLASNET_PHASE_TIMING: test/native/plan_step_timing.cc builds the
// step loop with it to print where a training step's time goes. Without the macro every hook is
// empty and nothing here is compiled into the addon.
//
// Wall time (steady_clock) and the calling thread's CPU time: a step's regions run on the plan's whole
// team and the calling thread waits for the last member, so its wall time is the region's; at one
// thread (every step on the calling thread) its CPU time is the phase's work, which a loaded
// machine's preemptions do not inflate.
#pragma once
#include <cstdint>

#ifdef BLASNET_PHASE_TIMING
#include <time.h>

#include <chrono>

namespace blasnet {
namespace plan {
namespace phase {

constexpr int kMaxOps = 64;
// Seconds summed over every step since Reset: per op (index in Workspace::ops), then the loss and
// the update.
struct Time {
  double wall = 0, cpu = 0;
};
struct Totals {
  Time forward[kMaxOps] = {};
  Time backward[kMaxOps] = {};
  Time loss, update;
};
inline Totals g_totals;

inline double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
inline double ThreadCpuNow() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Adds the time from its construction to its destruction to *slot.
class Clock {
 public:
  explicit Clock(Time* slot) : slot_(slot), wall0_(Now()), cpu0_(ThreadCpuNow()) {}
  ~Clock() {
    slot_->wall += Now() - wall0_;
    slot_->cpu += ThreadCpuNow() - cpu0_;
  }

 private:
  Time* slot_;
  double wall0_, cpu0_;
};

}  // namespace phase
}  // namespace plan
}  // namespace blasnet

#define BN_PHASE_FORWARD(i) ::blasnet::plan::phase::Clock bnPhaseClock(&::blasnet::plan::phase::g_totals.forward[(i) % ::blasnet::plan::phase::kMaxOps])
#define BN_PHASE_BACKWARD(i) ::blasnet::plan::phase::Clock bnPhaseClock(&::blasnet::plan::phase::g_totals.backward[(i) % ::blasnet::plan::phase::kMaxOps])
#define BN_PHASE_LOSS() ::blasnet::plan::phase::Clock bnPhaseClock(&::blasnet::plan::phase::g_totals.loss)
#define BN_PHASE_UPDATE() ::blasnet::plan::phase::Clock bnPhaseClock(&::blasnet::plan::phase::g_totals.update)
#else
#define BN_PHASE_FORWARD(i) (void)0
#define BN_PHASE_BACKWARD(i) (void)0
#define BN_PHASE_LOSS() (void)0
#define BN_PHASE_UPDATE() (void)0
#endif
