// The fused plan's step kinds, listed once: the file of each kind (everything the plan knows about
// it, see step.h) and BN_LAYERS, X(name, code, Step), the list every per-kind switch is generated
// from: the LayerKind enum and its name table (here), the spec parsing (plan_spec.cc), validation
// (plan_validate.cc), compilation (plan_compile.cc), the forward and backward dispatch
// (plan_steps.cc), and the per-kind parts of LayerDesc (plan.h) and Op (plan_workspace.h).
// The codes are the contract with the TypeScript registry (lib/nn/layers.ts); the loader compares
// the two through the addon's kinds() export when it loads.
//
// Adding a step kind: its file here, its include and its line below.
#pragma once
#include "../ops/kinds.h"
#include "activation.h"
#include "avg_pool2d.h"
#include "batch_norm.h"
#include "conv2d.h"
#include "dense.h"
#include "dropout.h"
#include "layer_norm.h"
#include "max_pool2d.h"
#include "residual.h"
#include "softmax.h"

#define BN_LAYERS(X)                     \
  X(dense, 0, DenseStep)                 \
  X(activation, 1, ActivationStep)       \
  X(softmax, 2, SoftmaxStep)             \
  X(dropout, 3, DropoutStep)             \
  X(conv2d, 4, Conv2dStep)               \
  X(maxPool2d, 5, MaxPool2dStep)         \
  X(avgPool2d, 6, AvgPool2dStep)         \
  X(batchNorm, 7, BatchNormStep)         \
  X(layerNorm, 8, LayerNormStep)         \
  X(residualStart, 9, ResidualStartStep) \
  X(residualEnd, 10, ResidualEndStep)

namespace blasnet {

#define BN_ENUMERATOR(name, code, ...) name = code,
enum class LayerKind : int { BN_LAYERS(BN_ENUMERATOR) };
#undef BN_ENUMERATOR

#define BN_KIND_ENTRY(name, code, ...) {#name, code},
constexpr KindEntry kLayerKinds[] = {BN_LAYERS(BN_KIND_ENTRY)};
#undef BN_KIND_ENTRY

}  // namespace blasnet

// The per-kind bases of LayerDesc and Op: `struct LayerDesc : LayerCommon BN_LAYERS(BN_STEP_DESC)`.
#define BN_STEP_DESC(name, code, Step) , Step::Desc
#define BN_STEP_FIELDS(name, code, Step) , Step::Fields
