// The fused plan's max pooling step over (C, H, W) samples (ops/pool.h): output (C, outH, outW);
// the forward pass keeps each output's argmax for the backward pass. Right after a conv2d step
// whose activation is linear or relu, both passes run inside the conv's (steps/conv2d.h): this
// step keeps its buffers and only hands the conv its input gradient unchanged.
#pragma once
#include <cstdint>

#include "../ops/pool.h"
#include "../plan_isa.h"
#include "../plan_region.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

struct MaxPool2dStep {
  struct Desc {};
  struct Fields {
    int32_t* argmax = nullptr;  // (B, out) index within the channel plane
    bool pooledByConv = false;  // fused into the conv2d step before it
  };

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.window = r.Window();
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    if (auto e = CheckWindow(l.window, c.at, c.width, true, false); !e.ok()) return e;
    const Window2d& g = l.window;
    const int64_t out = Product({g.channels, g.outH, g.outW});
    if (Product({c.batchSize, out}) > kMax31) return Range("Invalid " + c.at + ": batchSize x the output (" + Num(double(g.channels)) + ", " + Num(double(g.outH)) + ", " + Num(double(g.outW)) + ") must be below 2^31");
    c.width = out;
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.win = OpsWindow(l.window);
    op.out = l.window.channels * l.window.outH * l.window.outW;
    op.a = c.ws.Alloc(c.B * op.out);
    op.argmax = c.ws.AllocInt(c.B * op.out);
    if (auto* conv = c.Previous(); conv != nullptr && conv->poolsNext) {
      conv->poolA = op.a;
      conv->poolArgmax = op.argmax;
      conv->poolOut = op.out;
      conv->poolHW = l.window.outH * l.window.outW;
      conv->poolWin = op.win;
      conv->poolWin.channels = 1;  // called plane by plane
      op.pooledByConv = true;
    }
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W& ws, int64_t rows, bool, Rng&) {
    if (op.pooledByConv) {
      // Already pooled by the conv's forward pass.
    } else if (const int T = ws.RegionThreads(rows); T > 1) {
      ws.RunRegion(MakeRegion(RegionPart::maxPoolForward, &op, &ws, rows, T));
    } else {
      ops::MaxPool2dForward(op.a, op.argmax, op.inPtr, int(rows), op.win);
    }
    op.outPtr = op.a;
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W& ws, float* d, float* other, int64_t rows) {
    if (op.pooledByConv) return d;  // the conv's backward pass scatters d itself
    if (const int T = ws.RegionThreads(rows); T > 1) {
      ws.RunRegion(MakeRegion(RegionPart::maxPoolBackward, &op, &ws, rows, T, d, other));
    } else {
      ops::MaxPool2dBackward(other, d, op.argmax, int(rows), op.win);
    }
    return other;
  }
};

}  // namespace plan
}  // namespace blasnet
