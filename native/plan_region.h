// A sample-parallel region of the fused plan: one conv or pooling step's pass with its samples split
// over the plan's threads (plan_threads.h's Team). Thread t takes samples RegionRows(rows, threads, t),
// a fixed split, so a run's results do not depend on timing: every thread writes its own rows of the
// outputs and its own partial weight gradient, which the caller adds in thread order.
//
// RunRegionPart (plan_regions.cc) is what each thread runs: compiled per ISA like the step loop, since
// the team calls it through a pointer (nothing of it is inlined into the clone that called).
#pragma once
#include <cstdint>

namespace blasnet {
namespace plan {

struct Op;
struct Workspace;

enum class RegionPart : int { convForward, convBackward, maxPoolForward, maxPoolBackward, avgPoolForward, avgPoolBackward };

struct Region {
  RegionPart part = RegionPart::convForward;
  Op* op = nullptr;
  Workspace* ws = nullptr;
  int64_t rows = 0;
  int threads = 1;
  float* d = nullptr;      // backward: dL/d(output), (rows, op.out)
  float* other = nullptr;  // backward: dL/d(input) goes here, (rows, op.in)
};

inline Region MakeRegion(RegionPart part, Op* op, Workspace* ws, int64_t rows, int threads, float* d = nullptr,
                         float* other = nullptr) {
  Region r;
  r.part = part;
  r.op = op;
  r.ws = ws;
  r.rows = rows;
  r.threads = threads;
  r.d = d;
  r.other = other;
  return r;
}

/// Samples [*r0, *r1) of `rows` for thread t of `threads` (threads <= rows: none is empty).
inline void RegionRows(int64_t rows, int threads, int t, int64_t* r0, int64_t* r1) {
  *r0 = rows * t / threads;
  *r1 = rows * (t + 1) / threads;
}

/// Thread t's share of the Region at `region` (a Team::Fn).
void RunRegionPart(void* region, int t);

}  // namespace plan
}  // namespace blasnet
