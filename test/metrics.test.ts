/**
 * Classification metrics against values worked out by hand (the same numbers scikit-learn's
 * precision_recall_fscore_support, roc_auc_score and top_k_accuracy_score give for these inputs),
 * through the standalone functions, `evaluate`, and `fit`'s epoch logs seen by a callback.
 */
import { describe, expect, it } from "vitest";
import { Matrix } from "../lib/core/matrix.js";
import { dense } from "../lib/nn/layers.js";
import { Sequential } from "../lib/nn/sequential.js";
import { sgd } from "../lib/optim/index.js";
import { classScores, confusionMatrix, rocAuc } from "../lib/train/metrics.js";
import type { EpochLogs } from "../lib/train/callbacks.js";

/** A model whose outputs are its inputs (identity weights, no bias): predictions are softmax/sigmoid of x. */
function identityModel(width: number, loss: "crossEntropy" | "binaryCrossEntropy"): Sequential {
  const m = new Sequential([dense(width, { useBias: false })], { inputSize: width, seed: 0 });
  m.compile({ loss, optimizer: sgd({ lr: 1e-9 }) });
  const w = Matrix.zeros(width, width);
  for (let i = 0; i < width; i++) w.data[i * width + i] = 1;
  m.setWeights([{ weight: w }]);
  return m;
}

// Six rows, three classes: true [0,0,1,1,2,2], argmax of the logits [0,1,1,1,2,0].
const labels = [0, 0, 1, 1, 2, 2];
const logits = [
  [3, 1, 0],
  [0, 2, 1],
  [0, 3, 1],
  [1, 2, 0],
  [0, 1, 3],
  [2, 0, 1.5],
];
// Per class (precision, recall, f1): 0: 1/2, 1/2, 1/2; 1: 2/3, 1, 4/5; 2: 1, 1/2, 2/3.
const macroPrecision = (1 / 2 + 2 / 3 + 1) / 3;
const macroRecall = (1 / 2 + 1 + 1 / 2) / 3;
const macroF1 = (1 / 2 + 4 / 5 + 2 / 3) / 3;

describe("classification metrics", () => {
  it("confusion matrix and per-class precision, recall, F1, support", () => {
    const m = confusionMatrix(labels, [0, 1, 1, 1, 2, 0]);
    expect(m).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    const s = classScores(m);
    expect(s.map((c) => c.support)).toEqual([2, 2, 2]);
    expect(s[0]!.precision).toBeCloseTo(0.5, 12);
    expect(s[1]!.precision).toBeCloseTo(2 / 3, 12);
    expect(s[1]!.f1).toBeCloseTo(0.8, 12);
    expect(s[2]!.f1).toBeCloseTo(2 / 3, 12);
    // A class never predicted: precision 0 (scikit-learn's zero_division default), not NaN.
    expect(classScores([[1, 0], [1, 0]])[1]).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(() => confusionMatrix([0, 3], [0, 1], 2)).toThrow(/row 1 has true class 3.*expected integers in \[0, 2\)/);
  });

  it("ROC AUC: scikit-learn's example gives 0.75; ties count half; one class only is NaN", () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.5, 0.5, 0.9], [true, false, true])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.2, 0.3], [true, true])).toBeNaN();
  });

  it("evaluate: macro precision / recall / F1 and top-k accuracy of a three-class model", async () => {
    const model = identityModel(3, "crossEntropy");
    const r = await model.evaluate(logits, labels, { metrics: ["accuracy", "macroPrecision", "macroRecall", "macroF1", "top1Accuracy", "top2Accuracy", "top3Accuracy"] });
    expect(r["accuracy"]).toBeCloseTo(4 / 6, 6);
    expect(r["macroPrecision"]).toBeCloseTo(macroPrecision, 6);
    expect(r["macroRecall"]).toBeCloseTo(macroRecall, 6);
    expect(r["macroF1"]).toBeCloseTo(macroF1, 6);
    expect(r["top1Accuracy"]).toBeCloseTo(4 / 6, 6);
    // Second choices: row 0 (label 0 is first), row 5's label 2 (1.5) is second; row 1's label 0 is last.
    expect(r["top2Accuracy"]).toBeCloseTo(5 / 6, 6);
    expect(r["top3Accuracy"]).toBe(1);
    // Binary metrics need two classes: the error names the macro version.
    await expect(model.evaluate(logits, labels, { metrics: ["f1"] })).rejects.toThrow(/"f1" is for two classes.*"macroF1"/);
  });

  it("binary precision, recall, F1 and AUC, for binaryCrossEntropy and a two-class crossEntropy model", async () => {
    // Scores (sigmoid of x) 0.1, 0.4, 0.35, 0.8 for targets 0, 0, 1, 1: AUC 0.75; at 0.5 only the last is positive.
    const logit = (p: number): number => Math.log(p / (1 - p));
    const x = [0.1, 0.4, 0.35, 0.8].map((p) => [logit(p)]);
    const bce = identityModel(1, "binaryCrossEntropy");
    const r = await bce.evaluate(x, [[0], [0], [1], [1]], { metrics: ["precision", "recall", "f1", "auc", "accuracy"] });
    expect(r["precision"]).toBeCloseTo(1, 6);
    expect(r["recall"]).toBeCloseTo(0.5, 6);
    expect(r["f1"]).toBeCloseTo(2 / 3, 6);
    expect(r["auc"]).toBeCloseTo(0.75, 6);
    expect(r["accuracy"]).toBeCloseTo(0.75, 6);
    // The same scores as two softmax classes (logits 0 and logit(p)): class 1 is the positive one.
    const ce = identityModel(2, "crossEntropy");
    const r2 = await ce.evaluate(x.map(([v]) => [0, v!]), [0, 0, 1, 1], { metrics: ["precision", "recall", "f1", "auc"] });
    expect([r2["precision"], r2["recall"], r2["f1"], r2["auc"]].map((v) => Number(v!.toFixed(6)))).toEqual([1, 0.5, Number((2 / 3).toFixed(6)), 0.75]);
  });

  it("fit logs every metric, for training and validation, where callbacks see them", async () => {
    const model = identityModel(3, "crossEntropy");
    const seen: EpochLogs[] = [];
    const history = await model.fit(logits, labels, {
      epochs: 1,
      verbose: 0,
      shuffle: false,
      validationData: [logits, labels],
      metrics: ["macroF1", "top2Accuracy"],
      callbacks: [{ onEpochEnd: (_e, logs) => void seen.push({ ...logs }) }],
    });
    expect(Object.keys(seen[0]!).sort()).toEqual(["loss", "macroF1", "top2Accuracy", "valLoss", "valMacroF1", "valTop2Accuracy"]);
    // lr 1e-9: the weights barely move, so the scores are the hand-computed ones.
    expect(seen[0]!["valMacroF1"]).toBeCloseTo(macroF1, 6);
    expect(history.valMetrics!["top2Accuracy"]![0]).toBeCloseTo(5 / 6, 6);
  });
});
