// Batch and layer normalization, one definition: the per-kernel entry points (kernels.cc) and the
// fused plan call these. Semantics: `Kernels` in lib/backend/backend.ts (PyTorch's BatchNorm and
// LayerNorm, biased variance when normalizing); the TypeScript twin is lib/backend/ts/norm.ts.
// Sums in double; variances by two passes (never E[x^2] - E[x]^2); per-element work in float.
//
// Batch norm works on (rows, C, S): channel c of sample n is the contiguous run of S values at
// (n*C + c)*S. Layer norm works on (groups, size), a group contiguous. Plain C++ (no N-API, no
// threads, no allocation), always inlined into each caller's per-ISA clone. The backward passes'
// dx is computed in double (it subtracts nearly equal terms).
#pragma once
#include <cmath>
#include <cstdint>

#ifndef BN_OP_INLINE
#define BN_OP_INLINE inline __attribute__((always_inline))
#endif

namespace blasnet {
namespace ops {

namespace norm_detail {

BN_OP_INLINE double Sum(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += double(x[i]);
  return s;
}

BN_OP_INLINE double SumSquaredDeviations(const float* x, int64_t n, double mean) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) {
    const double d = double(x[i]) - mean;
    s += d * d;
  }
  return s;
}

// sum(dy) and sum(dy * (x - mean)) over n values.
BN_OP_INLINE void GradSums(const float* dy, const float* x, int64_t n, double mean, double* sum_dy, double* sum_dy_xc) {
  double a = 0.0, b = 0.0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; i++) {
    const double d = double(dy[i]);
    a += d;
    b += d * (double(x[i]) - mean);
  }
  *sum_dy += a;
  *sum_dy_xc += b;
}

}  // namespace norm_detail

// x is (rows, C, S); mean and variance (C) = per channel, the mean and the biased variance of its
// m = rows*S values (m = 0 gives NaN).
BN_OP_INLINE void BatchNormStats(float* mean, float* variance, const float* x, int rows, int channels, int64_t spatial) {
  const double m = double(rows) * double(spatial);
  for (int c = 0; c < channels; c++) {
    double s = 0.0;
    for (int n = 0; n < rows; n++) s += norm_detail::Sum(x + (int64_t(n) * channels + c) * spatial, spatial);
    const double mu = s / m;
    double q = 0.0;
    for (int n = 0; n < rows; n++) {
      q += norm_detail::SumSquaredDeviations(x + (int64_t(n) * channels + c) * spatial, spatial, mu);
    }
    mean[c] = float(mu);
    variance[c] = float(q / m);
  }
}

// x and y are (rows, C, S); mean, variance, gamma, beta (C):
// y = gamma[c] * (x - mean[c]) / sqrt(variance[c] + eps) + beta[c]. y may equal x.
BN_OP_INLINE void BatchNormForward(float* y, const float* x, const float* mean, const float* variance,
                                   const float* gamma, const float* beta, int rows, int channels, int64_t spatial,
                                   double eps) {
  for (int c = 0; c < channels; c++) {
    const float scale = float(double(gamma[c]) / std::sqrt(double(variance[c]) + eps));
    const float mu = mean[c];
    const float shift = beta[c];
    for (int n = 0; n < rows; n++) {
      const int64_t o = (int64_t(n) * channels + c) * spatial;
      const float* xc = x + o;
      float* yc = y + o;
      for (int64_t s = 0; s < spatial; s++) yc[s] = (xc[s] - mu) * scale + shift;
    }
  }
}

// dy, x, dx are (rows, C, S); mean, variance, gamma, dgamma, dbeta are (C). With
// invStd = 1/sqrt(variance + eps), xhat = (x - mean)*invStd, m = rows*S:
// dgamma = sum dy*xhat, dbeta = sum dy (overwritten); batch_stats: dx = gamma*invStd/m *
// (m*dy - sum(dy) - xhat*sum(dy*xhat)); otherwise dx = dy*gamma*invStd. dx may be null or dy.
BN_OP_INLINE void BatchNormBackward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                    const float* mean, const float* variance, const float* gamma, int rows,
                                    int channels, int64_t spatial, double eps, bool batch_stats) {
  const double m = double(rows) * double(spatial);
  for (int c = 0; c < channels; c++) {
    const double mu = mean[c];
    const double inv_std = 1.0 / std::sqrt(double(variance[c]) + eps);
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (int n = 0; n < rows; n++) {
      const int64_t o = (int64_t(n) * channels + c) * spatial;
      norm_detail::GradSums(dy + o, x + o, spatial, mu, &sum_dy, &sum_dy_xc);
    }
    const double sum_dy_xhat = sum_dy_xc * inv_std;
    dgamma[c] = float(sum_dy_xhat);
    dbeta[c] = float(sum_dy);
    if (dx == nullptr) continue;
    // dx = g * (dy - mean(dy) - xhat * mean(dy*xhat)), in double as the TypeScript reference (a
    // float form would not cancel exactly where the math gives 0, e.g. m = 1).
    const double g = double(gamma[c]) * inv_std;
    const double mean_dy = batch_stats ? sum_dy / m : 0.0;
    const double k_xc = batch_stats ? inv_std * sum_dy_xhat / m : 0.0;
    for (int n = 0; n < rows; n++) {
      const int64_t o = (int64_t(n) * channels + c) * spatial;
      const float* dyc = dy + o;
      const float* xc = x + o;
      float* dxc = dx + o;
      for (int64_t s = 0; s < spatial; s++) {
        dxc[s] = float(g * (double(dyc[s]) - mean_dy - (double(xc[s]) - mu) * k_xc));
      }
    }
  }
}

// x and y are (groups, size); gamma, beta (size); mean, inv_std (groups) are written: each group's
// mean and 1/sqrt(biased variance + eps). y = gamma[j]*(x - mean)*invStd + beta[j]. y may equal x.
BN_OP_INLINE void LayerNormForward(float* y, float* mean, float* inv_std, const float* x, const float* gamma,
                                   const float* beta, int groups, int64_t size, double eps) {
  for (int r = 0; r < groups; r++) {
    const float* xr = x + int64_t(r) * size;
    float* yr = y + int64_t(r) * size;
    const double mu = norm_detail::Sum(xr, size) / double(size);
    const double var = norm_detail::SumSquaredDeviations(xr, size, mu) / double(size);
    const double rstd = 1.0 / std::sqrt(var + eps);
    mean[r] = float(mu);
    inv_std[r] = float(rstd);
    const float mu_f = float(mu);
    const float rstd_f = float(rstd);
    for (int64_t j = 0; j < size; j++) yr[j] = gamma[j] * ((xr[j] - mu_f) * rstd_f) + beta[j];
  }
}

// dy, x, dx are (groups, size); mean, inv_std (groups) are LayerNormForward's; gamma, dgamma, dbeta
// (size). dgamma[j] = sum over groups of dy*xhat, dbeta[j] = sum of dy (overwritten; summed in
// float across groups); with g = dy*gamma, dx = invStd/size * (size*g - sum(g) - xhat*sum(g*xhat))
// (sums in double). dx may be null or dy (dgamma and dbeta are summed before dx is written).
BN_OP_INLINE void LayerNormBackward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                    const float* mean, const float* inv_std, const float* gamma, int groups,
                                    int64_t size) {
  for (int64_t j = 0; j < size; j++) dgamma[j] = 0.0f;
  for (int64_t j = 0; j < size; j++) dbeta[j] = 0.0f;
  for (int r = 0; r < groups; r++) {
    const float* dyr = dy + int64_t(r) * size;
    const float* xr = x + int64_t(r) * size;
    const float mu = mean[r];
    const float rstd = inv_std[r];
    for (int64_t j = 0; j < size; j++) {
      dgamma[j] += dyr[j] * ((xr[j] - mu) * rstd);
      dbeta[j] += dyr[j];
    }
  }
  if (dx == nullptr) return;
  for (int r = 0; r < groups; r++) {
    const float* dyr = dy + int64_t(r) * size;
    const float* xr = x + int64_t(r) * size;
    float* dxr = dx + int64_t(r) * size;
    const float mu = mean[r];
    const float rstd = inv_std[r];
    double sum_g = 0.0, sum_g_xhat = 0.0;
#pragma omp simd reduction(+ : sum_g, sum_g_xhat)
    for (int64_t j = 0; j < size; j++) {
      const double gj = double(dyr[j]) * double(gamma[j]);
      sum_g += gj;
      sum_g_xhat += gj * ((double(xr[j]) - double(mu)) * double(rstd));
    }
    const double mean_g = sum_g / double(size);
    const double mean_g_xhat = sum_g_xhat / double(size);
    // In double, as the TypeScript reference (size 1 gives exactly 0).
    for (int64_t j = 0; j < size; j++) {
      const double xhat = (double(xr[j]) - double(mu)) * double(rstd);
      dxr[j] = float(double(rstd) * (double(dyr[j]) * double(gamma[j]) - mean_g - xhat * mean_g_xhat));
    }
  }
}

}  // namespace ops
}  // namespace blasnet
