/**
 * Batch normalization over (rows, C, S) and layer normalization over (groups, size), PyTorch's
 * BatchNorm / LayerNorm (biased variance in the normalization), in the style of llm.c's
 * layernorm_forward / layernorm_backward. Sums in double; variances by two passes (the mean first),
 * never as E[x^2] - E[x]^2. Each kernel's signature and contract (shapes, formulas, which outputs
 * may alias which inputs) are those of its entry in `Kernels` (lib/backend/backend.ts), whose types
 * they take; the comments here say only how they compute it.
 */
import type { Kernels } from "../backend.js";
import { checkLength, checkSize } from "./check.js";

/** Checks sizes and lengths of a (rows, C, S) tensor call; returns rows*C*S. */
function checkRCS(rows: number, channels: number, spatial: number): number {
  checkSize("rows", rows);
  checkSize("channels", channels);
  checkSize("spatial", spatial);
  return rows * channels * spatial;
}

function checkEps(what: string, eps: number): void {
  if (!(Number.isFinite(eps) && eps >= 0)) throw new RangeError(`Invalid eps for ${what}: ${eps}; expected a finite number >= 0`);
}

/** Kernels.batchNormStats: per channel, the sum, then the squared deviations from the mean. */
export const batchNormStats: Kernels["batchNormStats"] = (mean, variance, x, rows, channels, spatial) => {
  const count = checkRCS(rows, channels, spatial);
  checkLength("x (rows, channels, spatial)", x.length, count);
  checkLength("mean (channels)", mean.length, channels);
  checkLength("variance (channels)", variance.length, channels);
  const m = rows * spatial;
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let n = 0; n < rows; n++) {
      const o = (n * channels + c) * spatial;
      for (let k = 0; k < spatial; k++) s += x[o + k];
    }
    const mu = s / m;
    let q = 0;
    for (let n = 0; n < rows; n++) {
      const o = (n * channels + c) * spatial;
      for (let k = 0; k < spatial; k++) {
        const d = x[o + k] - mu;
        q += d * d;
      }
    }
    mean[c] = mu;
    variance[c] = q / m;
  }
};

/** Kernels.batchNormForward: one scale and shift per channel. */
export const batchNormForward: Kernels["batchNormForward"] = (y, x, mean, variance, gamma, beta, rows, channels, spatial, eps) => {
  const count = checkRCS(rows, channels, spatial);
  checkEps("batchNormForward", eps);
  checkLength("x (rows, channels, spatial)", x.length, count);
  checkLength("y (rows, channels, spatial)", y.length, count);
  for (const [name, v] of [["mean", mean], ["variance", variance], ["gamma", gamma], ["beta", beta]] as const) {
    checkLength(`${name} (channels)`, v.length, channels);
  }
  for (let c = 0; c < channels; c++) {
    const scale = gamma[c] / Math.sqrt(variance[c] + eps);
    const mu = mean[c];
    const shift = beta[c];
    for (let n = 0; n < rows; n++) {
      const o = (n * channels + c) * spatial;
      for (let k = 0; k < spatial; k++) y[o + k] = (x[o + k] - mu) * scale + shift;
    }
  }
};

/** Kernels.batchNormBackward: per channel, sum(dy) and sum(dy*xhat) in double, then dx from them. */
export const batchNormBackward: Kernels["batchNormBackward"] = (dx, dgamma, dbeta, dy, x, mean, variance, gamma, rows, channels, spatial, eps, batchStats) => {
  const count = checkRCS(rows, channels, spatial);
  checkEps("batchNormBackward", eps);
  checkLength("dy (rows, channels, spatial)", dy.length, count);
  checkLength("x (rows, channels, spatial)", x.length, count);
  if (dx !== null) checkLength("dx (rows, channels, spatial)", dx.length, count);
  for (const [name, v] of [["dgamma", dgamma], ["dbeta", dbeta], ["mean", mean], ["variance", variance], ["gamma", gamma]] as const) {
    checkLength(`${name} (channels)`, v.length, channels);
  }
  const m = rows * spatial;
  for (let c = 0; c < channels; c++) {
    const mu = mean[c];
    const invStd = 1 / Math.sqrt(variance[c] + eps);
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let n = 0; n < rows; n++) {
      const o = (n * channels + c) * spatial;
      for (let k = 0; k < spatial; k++) {
        const d = dy[o + k];
        sumDy += d;
        sumDyXhat += d * (x[o + k] - mu) * invStd;
      }
    }
    dgamma[c] = sumDyXhat;
    dbeta[c] = sumDy;
    if (dx === null) continue;
    const g = gamma[c] * invStd;
    for (let n = 0; n < rows; n++) {
      const o = (n * channels + c) * spatial;
      if (batchStats) {
        const meanDy = sumDy / m;
        const meanDyXhat = sumDyXhat / m;
        for (let k = 0; k < spatial; k++) dx[o + k] = g * (dy[o + k] - meanDy - (x[o + k] - mu) * invStd * meanDyXhat);
      } else {
        for (let k = 0; k < spatial; k++) dx[o + k] = g * dy[o + k];
      }
    }
  }
};

/** Kernels.layerNormForward: per group, the mean, then the squared deviations from it. */
export const layerNormForward: Kernels["layerNormForward"] = (y, mean, invStd, x, gamma, beta, groups, size, eps) => {
  checkSize("groups", groups);
  checkSize("size", size);
  checkEps("layerNormForward", eps);
  checkLength("x (groups, size)", x.length, groups * size);
  checkLength("y (groups, size)", y.length, groups * size);
  checkLength("mean (groups)", mean.length, groups);
  checkLength("invStd (groups)", invStd.length, groups);
  checkLength("gamma (size)", gamma.length, size);
  checkLength("beta (size)", beta.length, size);
  for (let r = 0; r < groups; r++) {
    const o = r * size;
    let s = 0;
    for (let j = 0; j < size; j++) s += x[o + j];
    const mu = s / size;
    let q = 0;
    for (let j = 0; j < size; j++) {
      const d = x[o + j] - mu;
      q += d * d;
    }
    const rstd = 1 / Math.sqrt(q / size + eps);
    for (let j = 0; j < size; j++) y[o + j] = gamma[j] * (x[o + j] - mu) * rstd + beta[j];
    mean[r] = mu;
    invStd[r] = rstd;
  }
};

/**
 * Kernels.layerNormBackward: per group, sum(g) and sum(g*xhat) for dx; dgamma and dbeta summed over
 * the groups in double (columnSums).
 */
export const layerNormBackward: Kernels["layerNormBackward"] = (dx, dgamma, dbeta, dy, x, mean, invStd, gamma, groups, size) => {
  checkSize("groups", groups);
  checkSize("size", size);
  checkLength("dy (groups, size)", dy.length, groups * size);
  checkLength("x (groups, size)", x.length, groups * size);
  if (dx !== null) checkLength("dx (groups, size)", dx.length, groups * size);
  checkLength("mean (groups)", mean.length, groups);
  checkLength("invStd (groups)", invStd.length, groups);
  checkLength("gamma (size)", gamma.length, size);
  checkLength("dgamma (size)", dgamma.length, size);
  checkLength("dbeta (size)", dbeta.length, size);
  if (columnSums.length < 2 * size) columnSums = new Float64Array(2 * size);
  const sums = columnSums;
  sums.fill(0, 0, 2 * size);
  for (let r = 0; r < groups; r++) {
    const o = r * size;
    const mu = mean[r];
    const rstd = invStd[r];
    let sumG = 0;
    let sumGXhat = 0;
    for (let j = 0; j < size; j++) {
      const d = dy[o + j];
      const xhat = (x[o + j] - mu) * rstd;
      sums[j] += d * xhat;
      sums[size + j] += d;
      const gj = d * gamma[j];
      sumG += gj;
      sumGXhat += gj * xhat;
    }
    if (dx === null) continue;
    const meanG = sumG / size;
    const meanGXhat = sumGXhat / size;
    for (let j = 0; j < size; j++) {
      const xhat = (x[o + j] - mu) * rstd;
      dx[o + j] = rstd * (dy[o + j] * gamma[j] - meanG - xhat * meanGXhat);
    }
  }
  for (let j = 0; j < size; j++) {
    dgamma[j] = sums[j];
    dbeta[j] = sums[size + j];
  }
};

/** Per-column sums of layerNormBackward (dgamma, dbeta) in double, grown to the widest layer seen and reused. */
let columnSums = new Float64Array(512);
