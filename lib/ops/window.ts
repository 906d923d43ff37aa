/**
 * The geometry of a 2-D window (a convolution kernel or a pooling window), shared by the layers, the
 * kernels (lib/backend/backend.ts) and the plan steps (lib/backend/plan.ts).
 *
 * Output (oh, ow), tap (i, j) reads the input at
 *   h = oh*strideH - padTop + i*dilationH,  w = ow*strideW - padLeft + j*dilationW;
 * positions outside [0,H)x[0,W) are padding. NCHW, float32, a sample contiguous (PyTorch's layout).
 */

/** A 2-D window (a convolution kernel or a pooling window) sliding over (channels, height, width) samples. */
export interface Window2d {
  channels: number; height: number; width: number;   // the input sample (C, H, W)
  kernelH: number; kernelW: number;
  strideH: number; strideW: number;
  padTop: number; padLeft: number;                     // padding before the first row / column
  dilationH: number; dilationW: number;
  outH: number; outW: number;                          // output size; bottom/right padding is what these imply
}
