/**
 * GEMM in TypeScript: C = alpha * op(A) * op(B) + beta * C over row-major float32 matrices.
 *
 * op(A) is (m,k), op(B) is (k,n), C is (m,n). The loop order is i-k-j, the way the math reads
 * row by row: C[i,:] += alpha * A[i,p] * B[p,:] for each p, a contiguous saxpy over j.
 *
 * What makes it fast in V8. Measured on the development machine (Xeon, Node 20), in GFLOPS at
 * m x n x k = 128x256x784 / 256x1024x1024: plain i-k-j 1.1 / 1.1; blocked only 1.1 / 1.1; plus
 * 4 rows at once 2.1 / 2.1; 2 x 4 register block 3.9 / 3.8; 4 x 4 4.9 / 5.0; 4 x 8 (this kernel)
 * 5.7 / 6.0 (5.3-5.9 across the four transpose combinations); 8 x 8 6.9 / 7.2, not taken: 64
 * scalars of A per block for a fifth more speed. TensorFlow.js's cpu backend: 0.95 / 0.94.
 * The fast parts:
 * - blocking over j (NC columns) and k (KC rows of B), so a KC x NC block of B (256 KB) stays in
 *   cache while every row of A streams past it;
 * - a 4 x 8 register block: 4 rows of C and 8 values of k at once, so each C[i,j] is loaded and
 *   stored once per 8 multiply-adds and each B[p,j] is loaded once per 4 rows (the plain
 *   saxpy loop loads and stores C on every multiply-add and runs at about a fifth of the speed);
 * - the 8 products of a row are summed in double precision and rounded to float32 once;
 * - op(B) is packed into a module-level scratch buffer (grown once, reused) when B is stored
 *   transposed, because the inner loop over j must be contiguous. op(A) never needs packing: the
 *   inner loop does not touch A, which is read through a (row, column) stride pair instead.
 * - except for at most 4 rows of A (a dense layer's forward pass on a few rows: predict on one
 *   sample, a last partial batch, fit's warm-up step): then packing B costs more than the product
 *   (T3's 4096 x 4096 weight: a transposed copy of 64 MB for 4 rows), and rowsTimesBt takes each
 *   C[i,j] as a dot product of row i of A with row j of B as stored, both contiguous, B read once.
 *   It adds the products in the blocked kernel's order (see rowsTimesBt), so C is the same to the
 *   bit whichever path computes it.
 */
import { checkLength, checkSize, checksDisagree, isSize } from "./check.js";

/** Columns of C (and B) per block. */
const NC = 512;
/** Values of k per block: rows of B kept in cache together. */
const KC = 128;
/** Up to this many multiply-adds (m n k), a plain dot-product loop beats the blocked kernel. */
const SMALL = 4096;

/** Up to this many rows of C, a B stored transposed is not packed (rowsTimesBt). */
const FEW_ROWS = 4;

/** op(B) as a row-major (k,n) copy when B is stored (n,k). Grows to the largest size seen. */
let packedB = new Float32Array(4096);
/** alpha * A for rowsTimesBt, FEW_ROWS rows of k (float64: the products are exact as in fourRows). Grows to the largest size seen. */
let scaledA = new Float64Array(FEW_ROWS * 1024);

/**
 * C (m,n) = alpha * op(A) (m,k) * op(B) (k,n) + beta * C.
 * A is stored (m,k), or (k,m) when `transA`; B is stored (k,n), or (n,k) when `transB`.
 * beta = 0 overwrites C; alpha = 0 or k = 0 leaves beta * C without reading A or B.
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): void {
  // One condition; the message only when it fails (see check.ts: this keeps gemm small enough to inline).
  if (!(isSize(m) && isSize(n) && isSize(k) && a.length >= m * k && b.length >= k * n && c.length >= m * n)) {
    gemmArgumentError(transA, transB, m, n, k, a, b, c);
  }
  if (m * n * k <= SMALL && alpha !== 0) {
    // A(i,p) = a[i * ars + p * acs], B(p,j) = b[p * brs + j * bcs].
    smallGemm(c, m, n, k, alpha, a, transA ? 1 : k, transA ? m : 1, b, transB ? 1 : n, transB ? k : 1, beta);
    return;
  }
  largeGemm(transA, transB, m, n, k, alpha, a, b, beta, c);
}

/** Throws the error of gemm's first argument that is out of range. */
function gemmArgumentError(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): never {
  checkSize("m", m);
  checkSize("n", n);
  checkSize("k", k);
  checkLength(transA ? "a (k,m)" : "a (m,k)", a.length, m * k);
  checkLength(transB ? "b (n,k)" : "b (k,n)", b.length, k * n);
  checkLength("c (m,n)", c.length, m * n);
  checksDisagree("gemm");
}

/**
 * gemm beyond SMALL multiply-adds (or with alpha = 0). A function of its own so that gemm stays small
 * enough for V8 to inline into its callers: a small network's training step calls it five times.
 */
function largeGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): void {
  scaleC(c, m * n, beta);
  if (m === 0 || n === 0 || k === 0 || alpha === 0) return;
  if (transB && m <= FEW_ROWS) {
    rowsTimesBt(c, a, transA ? 1 : k, transA ? m : 1, b, m, n, k, alpha);
    return;
  }

  const bKN = transB ? packTransposed(b, n, k) : b;
  // A[i,p] is a[i * rowStride + p * colStride].
  if (transA) blockedGemm(c, a, 1, m, bKN, m, n, k, alpha);
  else blockedGemm(c, a, k, 1, bKN, m, n, k, alpha);
}

/**
 * Small products (the lecture network's 10x3x1 layers): one dot product per element of C, read
 * through strides, so there is no beta pass, no packing and no blocking to pay for.
 * C[i,j] = alpha * sum_p A(i,p) B(p,j) + beta * C[i,j], the sum in double, rounded once.
 */
function smallGemm(
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  ars: number,
  acs: number,
  b: Float32Array,
  brs: number,
  bcs: number,
  beta: number,
): void {
  for (let i = 0; i < m; i++) {
    const ai = i * ars;
    const ci = i * n;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0, ap = ai, bp = j * bcs; p < k; p++, ap += acs, bp += brs) s += a[ap] * b[bp];
      c[ci + j] = beta === 0 ? alpha * s : alpha * s + beta * c[ci + j];
    }
  }
}

/** c (count) *= beta; beta = 0 writes zeros (so NaN or Inf in C does not survive). */
function scaleC(c: Float32Array, count: number, beta: number): void {
  if (beta === 1) return;
  if (beta === 0) {
    c.fill(0, 0, count);
    return;
  }
  for (let i = 0; i < count; i++) c[i] *= beta;
}

/** packedB (k,n) = transpose of b (n,k), copied in 32 x 32 tiles to keep both sides in cache. */
function packTransposed(b: Float32Array, n: number, k: number): Float32Array {
  if (packedB.length < n * k) packedB = new Float32Array(n * k);
  const out = packedB;
  const T = 32;
  for (let j0 = 0; j0 < n; j0 += T) {
    const j1 = j0 + T < n ? j0 + T : n;
    for (let p0 = 0; p0 < k; p0 += T) {
      const p1 = p0 + T < k ? p0 + T : k;
      for (let j = j0; j < j1; j++) {
        const src = j * k;
        for (let p = p0; p < p1; p++) out[p * n + j] = b[src + p];
      }
    }
  }
  return out;
}

/**
 * C (m,n) += alpha * A (m,k) * Bᵀ for B stored (n,k) row-major, m <= FEW_ROWS; A[i,p] = a[i * ars + p * acs].
 * Each C[i,j] is a dot product of row i of alpha * A with row j of B, taken in the order the blocked
 * kernel (fourRows, oneRow) takes it, so the result is the same to the bit: C[i,j] plus the sum of
 * each group of 8 products (p = 8g .. 8g + 7, summed in double from the left, then rounded to float32
 * with C), then each remaining product alone. (The blocked kernel's KC blocks start at multiples of
 * 8, so its groups are these.)
 */
function rowsTimesBt(c: Float32Array, a: Float32Array, ars: number, acs: number, b: Float32Array, m: number, n: number, k: number, alpha: number): void {
  if (scaledA.length < m * k) scaledA = new Float64Array(m * k);
  const sa = scaledA;
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) sa[i * k + p] = alpha * a[i * ars + p * acs];
  const k8 = k - (k % 8);
  for (let j = 0; j < n; j++) {
    const bj = j * k;
    let i = 0;
    if (m === 4) {
      const o1 = k, o2 = 2 * k, o3 = 3 * k;
      let s0 = c[j], s1 = c[n + j], s2 = c[2 * n + j], s3 = c[3 * n + j];
      let p = 0;
      for (; p < k8; p += 8) {
        const q = bj + p;
        const x0 = b[q], x1 = b[q + 1], x2 = b[q + 2], x3 = b[q + 3];
        const x4 = b[q + 4], x5 = b[q + 5], x6 = b[q + 6], x7 = b[q + 7];
        s0 = Math.fround(s0 + (sa[p] * x0 + sa[p + 1] * x1 + sa[p + 2] * x2 + sa[p + 3] * x3 + sa[p + 4] * x4 + sa[p + 5] * x5 + sa[p + 6] * x6 + sa[p + 7] * x7));
        const r1 = o1 + p;
        s1 = Math.fround(s1 + (sa[r1] * x0 + sa[r1 + 1] * x1 + sa[r1 + 2] * x2 + sa[r1 + 3] * x3 + sa[r1 + 4] * x4 + sa[r1 + 5] * x5 + sa[r1 + 6] * x6 + sa[r1 + 7] * x7));
        const r2 = o2 + p;
        s2 = Math.fround(s2 + (sa[r2] * x0 + sa[r2 + 1] * x1 + sa[r2 + 2] * x2 + sa[r2 + 3] * x3 + sa[r2 + 4] * x4 + sa[r2 + 5] * x5 + sa[r2 + 6] * x6 + sa[r2 + 7] * x7));
        const r3 = o3 + p;
        s3 = Math.fround(s3 + (sa[r3] * x0 + sa[r3 + 1] * x1 + sa[r3 + 2] * x2 + sa[r3 + 3] * x3 + sa[r3 + 4] * x4 + sa[r3 + 5] * x5 + sa[r3 + 6] * x6 + sa[r3 + 7] * x7));
      }
      for (; p < k; p++) {
        const x = b[bj + p];
        s0 = Math.fround(s0 + sa[p] * x);
        s1 = Math.fround(s1 + sa[o1 + p] * x);
        s2 = Math.fround(s2 + sa[o2 + p] * x);
        s3 = Math.fround(s3 + sa[o3 + p] * x);
      }
      c[j] = s0;
      c[n + j] = s1;
      c[2 * n + j] = s2;
      c[3 * n + j] = s3;
      i = 4;
    }
    for (; i < m; i++) {
      const r = i * k;
      let s = c[i * n + j];
      let p = 0;
      for (; p < k8; p += 8) {
        const q = bj + p, t = r + p;
        s = Math.fround(s + (sa[t] * b[q] + sa[t + 1] * b[q + 1] + sa[t + 2] * b[q + 2] + sa[t + 3] * b[q + 3] + sa[t + 4] * b[q + 4] + sa[t + 5] * b[q + 5] + sa[t + 6] * b[q + 6] + sa[t + 7] * b[q + 7]));
      }
      for (; p < k; p++) s = Math.fround(s + sa[r + p] * b[bj + p]);
      c[i * n + j] = s;
    }
  }
}

/**
 * C (m,n) += alpha * A (m,k) * B (k,n), B row-major, A[i,p] = a[i * ars + p * acs].
 * Blocks of NC columns and KC values of k; within a block, 4 rows at a time, then the rest.
 */
function blockedGemm(
  c: Float32Array,
  a: Float32Array,
  ars: number,
  acs: number,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  alpha: number,
): void {
  for (let j0 = 0; j0 < n; j0 += NC) {
    const j1 = j0 + NC < n ? j0 + NC : n;
    for (let p0 = 0; p0 < k; p0 += KC) {
      const p1 = p0 + KC < k ? p0 + KC : k;
      let i = 0;
      for (; i + 4 <= m; i += 4) fourRows(c, n, i, a, ars, acs, alpha, b, p0, p1, j0, j1);
      for (; i < m; i++) oneRow(c, n, i, a, ars, acs, alpha, b, p0, p1, j0, j1);
    }
  }
}

/** C[i..i+4, j0..j1) += alpha * A[i..i+4, p0..p1) * B[p0..p1, j0..j1). */
function fourRows(
  c: Float32Array,
  n: number,
  i: number,
  a: Float32Array,
  ars: number,
  acs: number,
  alpha: number,
  b: Float32Array,
  p0: number,
  p1: number,
  j0: number,
  j1: number,
): void {
  const c0 = i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
  const r0 = i * ars, r1 = r0 + ars, r2 = r1 + ars, r3 = r2 + ars;
  let p = p0;
  for (; p + 8 <= p1; p += 8) {
    // The 4 x 8 block of alpha * A, held in locals for the whole j loop.
    const q0 = p * acs, q1 = q0 + acs, q2 = q1 + acs, q3 = q2 + acs;
    const q4 = q3 + acs, q5 = q4 + acs, q6 = q5 + acs, q7 = q6 + acs;
    const a00 = alpha * a[r0 + q0], a01 = alpha * a[r0 + q1], a02 = alpha * a[r0 + q2], a03 = alpha * a[r0 + q3];
    const a04 = alpha * a[r0 + q4], a05 = alpha * a[r0 + q5], a06 = alpha * a[r0 + q6], a07 = alpha * a[r0 + q7];
    const a10 = alpha * a[r1 + q0], a11 = alpha * a[r1 + q1], a12 = alpha * a[r1 + q2], a13 = alpha * a[r1 + q3];
    const a14 = alpha * a[r1 + q4], a15 = alpha * a[r1 + q5], a16 = alpha * a[r1 + q6], a17 = alpha * a[r1 + q7];
    const a20 = alpha * a[r2 + q0], a21 = alpha * a[r2 + q1], a22 = alpha * a[r2 + q2], a23 = alpha * a[r2 + q3];
    const a24 = alpha * a[r2 + q4], a25 = alpha * a[r2 + q5], a26 = alpha * a[r2 + q6], a27 = alpha * a[r2 + q7];
    const a30 = alpha * a[r3 + q0], a31 = alpha * a[r3 + q1], a32 = alpha * a[r3 + q2], a33 = alpha * a[r3 + q3];
    const a34 = alpha * a[r3 + q4], a35 = alpha * a[r3 + q5], a36 = alpha * a[r3 + q6], a37 = alpha * a[r3 + q7];
    const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n, b4 = b3 + n, b5 = b4 + n, b6 = b5 + n, b7 = b6 + n;
    for (let j = j0; j < j1; j++) {
      const x0 = b[b0 + j], x1 = b[b1 + j], x2 = b[b2 + j], x3 = b[b3 + j];
      const x4 = b[b4 + j], x5 = b[b5 + j], x6 = b[b6 + j], x7 = b[b7 + j];
      c[c0 + j] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3 + a04 * x4 + a05 * x5 + a06 * x6 + a07 * x7;
      c[c1 + j] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3 + a14 * x4 + a15 * x5 + a16 * x6 + a17 * x7;
      c[c2 + j] += a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3 + a24 * x4 + a25 * x5 + a26 * x6 + a27 * x7;
      c[c3 + j] += a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3 + a34 * x4 + a35 * x5 + a36 * x6 + a37 * x7;
    }
  }
  for (; p < p1; p++) {
    const q = p * acs;
    const a0 = alpha * a[r0 + q], a1 = alpha * a[r1 + q], a2 = alpha * a[r2 + q], a3 = alpha * a[r3 + q];
    const bp = p * n;
    for (let j = j0; j < j1; j++) {
      const x = b[bp + j];
      c[c0 + j] += a0 * x;
      c[c1 + j] += a1 * x;
      c[c2 + j] += a2 * x;
      c[c3 + j] += a3 * x;
    }
  }
}

/** C[i, j0..j1) += alpha * A[i, p0..p1) * B[p0..p1, j0..j1), for the rows left over by fourRows. */
function oneRow(
  c: Float32Array,
  n: number,
  i: number,
  a: Float32Array,
  ars: number,
  acs: number,
  alpha: number,
  b: Float32Array,
  p0: number,
  p1: number,
  j0: number,
  j1: number,
): void {
  const ci = i * n;
  const r = i * ars;
  let p = p0;
  for (; p + 8 <= p1; p += 8) {
    const q0 = r + p * acs;
    const a0 = alpha * a[q0], a1 = alpha * a[q0 + acs], a2 = alpha * a[q0 + 2 * acs], a3 = alpha * a[q0 + 3 * acs];
    const a4 = alpha * a[q0 + 4 * acs], a5 = alpha * a[q0 + 5 * acs], a6 = alpha * a[q0 + 6 * acs], a7 = alpha * a[q0 + 7 * acs];
    const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n, b4 = b3 + n, b5 = b4 + n, b6 = b5 + n, b7 = b6 + n;
    for (let j = j0; j < j1; j++) {
      c[ci + j] +=
        a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j] +
        a4 * b[b4 + j] + a5 * b[b5 + j] + a6 * b[b6 + j] + a7 * b[b7 + j];
    }
  }
  for (; p < p1; p++) {
    const aip = alpha * a[r + p * acs];
    const bp = p * n;
    for (let j = j0; j < j1; j++) c[ci + j] += aip * b[bp + j];
  }
}
