// Each thread's share of a sample-parallel region (plan_region.h): the conv step's chunk loop or the
// pooling step over the thread's samples, with the thread's own workspaces (Workspace::threadCols,
// ...). Compiled per ISA (plan_isa.h) like the step loop: the team calls it through a pointer, so
// it is not inlined into the caller's clone. Nothing here allocates or touches N-API.
#include "ops/pool.h"
#include "plan.h"
#include "plan_isa.h"
#include "plan_region.h"
#include "plan_workspace.h"

namespace blasnet {
namespace plan {
namespace {

BN_CLONES void RegionPartImpl(const Region& r, int t) {
  Op& op = *r.op;
  Workspace& ws = *r.ws;
  int64_t r0, r1;
  RegionRows(r.rows, r.threads, t, &r0, &r1);
  const int rows = int(r1 - r0);
  const size_t at = size_t(t);
  switch (r.part) {
    case RegionPart::convForward:
      ConvForwardRows(op, ws.threadCols[at], ws.threadGemmOut[at], r0, r1);
      return;
    case RegionPart::convBackward: {
      double* sums = op.db ? ws.threadSums[at] : nullptr;
      if (sums) {
        for (int64_t c = 0; c < op.outChannels; c++) sums[c] = 0.0;
      }
      float* dw = t == 0 ? op.dw : ws.threadDw[at];
      ConvBackwardRows(op, ws.threadCols[at], ws.threadGemmOut[at], r.d, r.other, r0, r1, dw, sums);
      return;
    }
    case RegionPart::maxPoolForward:
      ops::MaxPool2dForward(op.a + r0 * op.out, op.argmax + r0 * op.out, op.inPtr + r0 * op.in, rows, op.win);
      return;
    case RegionPart::maxPoolBackward:
      ops::MaxPool2dBackward(r.other + r0 * op.in, r.d + r0 * op.out, op.argmax + r0 * op.out, rows, op.win);
      return;
    case RegionPart::avgPoolForward:
      ops::AvgPool2dForward(op.a + r0 * op.out, op.inPtr + r0 * op.in, rows, op.win);
      return;
    case RegionPart::avgPoolBackward:
      ops::AvgPool2dBackward(r.other + r0 * op.in, r.d + r0 * op.out, rows, op.win);
      return;
  }
}

}  // namespace

void RunRegionPart(void* region, int t) { RegionPartImpl(*static_cast<const Region*>(region), t); }

}  // namespace plan
}  // namespace blasnet
