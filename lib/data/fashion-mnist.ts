/**
 * Fashion-MNIST (Zalando: 70,000 28x28 grey images of clothes in 10 classes) from the IDX files the
 * Debian/Ubuntu package `dataset-fashion-mnist` installs under /usr/share/datasets/fashion-mnist.
 *
 * Images come back as a `(count, 784)` Matrix of pixels scaled to [0, 1] (`layout: "flat"`, the
 * default: the input of dense layers), or with `layout: "nchw"` as `{ data, shape: [count, 1, 28, 28] }`
 * (one channel, the input of conv2d layers; the same values in the same order). Labels come back as
 * an Int32Array of class indices 0..9 (see FASHION_MNIST_CLASSES).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Matrix } from "../core/matrix.js";
import { checkOptions } from "../core/options.js";
import { readIdx, type IdxArray } from "./idx.js";

/** Where the Debian package `dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist";

/** Class names, by label index. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

const FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** Images in the NCHW layout: `shape` is [count, channels, height, width], `data` row-major. */
export interface ImageArray {
  /** All pixels, sample by sample, channel by channel, row by row: length N x C x H x W. */
  data: Float32Array;
  /** [N, C, H, W]: samples, channels (1 for Fashion-MNIST), height, width. */
  shape: [number, number, number, number];
}

/** How loadFashionMnist lays out the images: see FashionMnistOptions.layout. */
export type ImageLayout = "flat" | "nchw";

/** One split of Fashion-MNIST: images and their class indices, in file order. */
export interface LabelledImages<Images extends Matrix | ImageArray = Matrix> {
  /** Pixels scaled to [0, 1]: a `(count, 784)` Matrix, or `{ data, shape: [count, 1, 28, 28] }` with layout "nchw". */
  images: Images;
  /** Class index 0..9 per image. */
  labels: Int32Array;
}

/** Fashion-MNIST as loadFashionMnist returns it: 28x28 grey images of 10 kinds of clothing. */
export interface FashionMnist<Images extends Matrix | ImageArray = Matrix> {
  /** The 60,000 training images (or the first `trainLimit`). */
  train: LabelledImages<Images>;
  /** The 10,000 test images (or the first `testLimit`). */
  test: LabelledImages<Images>;
  /** The 10 class names, by class index ("T-shirt/top", "Trouser", ...). */
  classNames: readonly string[];
  /** The directory the files were read from. */
  dir: string;
}

/** Options of loadFashionMnist. */
export interface FashionMnistOptions {
  /**
   * Directory holding the four IDX files (gzip or not). Default: `$BLASNET_FASHION_MNIST_DIR`, else
   * /usr/share/datasets/fashion-mnist.
   */
  dir?: string;
  /** Keep only the first `trainLimit` training images (default all 60,000). */
  trainLimit?: number;
  /** Keep only the first `testLimit` test images (default all 10,000). */
  testLimit?: number;
  /**
   * "flat" (default): images as a `(count, 784)` Matrix, for dense layers. "nchw": images as
   * `{ data, shape: [count, 1, 28, 28] }`, for conv2d layers (`fit`, `evaluate` and `predict` take it
   * as it is).
   */
  layout?: ImageLayout;
}

/** The paths of the four files, or an error that says which are missing and how to install them. */
export function locateFashionMnist(dir?: string): {
  dir: string;
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
} {
  const root = dir ?? (process.env["BLASNET_FASHION_MNIST_DIR"] || FASHION_MNIST_DEBIAN_DIR);
  const missing: string[] = [];
  const find = (base: string): string => {
    for (const name of [`${base}.gz`, base]) {
      const p = join(root, name);
      if (existsSync(p)) return p;
    }
    missing.push(join(root, `${base}.gz`));
    return "";
  };
  const found = {
    dir: root,
    trainImages: find(FILES.trainImages),
    trainLabels: find(FILES.trainLabels),
    testImages: find(FILES.testImages),
    testLabels: find(FILES.testLabels),
  };
  if (missing.length > 0) {
    const fixes =
      root === FASHION_MNIST_DEBIAN_DIR
        ? `Install the dataset with:\n  sudo apt-get install dataset-fashion-mnist\n` +
          `or point BLASNET_FASHION_MNIST_DIR (or { dir }) at a directory holding the four IDX files.`
        : `Check the directory, or install the Debian package (sudo apt-get install dataset-fashion-mnist) ` +
          `and leave { dir } and BLASNET_FASHION_MNIST_DIR unset to use ${FASHION_MNIST_DEBIAN_DIR}.`;
    throw new Error(
      `Fashion-MNIST not found in ${root}: missing ${missing.join(", ")} (plain or .gz).\n${fixes}`,
    );
  }
  return found;
}

/** Load Fashion-MNIST: train (60,000) and test (10,000) images and labels. */
export async function loadFashionMnist(options?: FashionMnistOptions & { layout?: "flat" }): Promise<FashionMnist<Matrix>>;
export async function loadFashionMnist(options: FashionMnistOptions & { layout: "nchw" }): Promise<FashionMnist<ImageArray>>;
export async function loadFashionMnist(options?: FashionMnistOptions): Promise<FashionMnist<Matrix> | FashionMnist<ImageArray>>;
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnist<Matrix> | FashionMnist<ImageArray>> {
  checkOptions(options, ["dir", "trainLimit", "testLimit", "layout"], "loadFashionMnist");
  const trainLimit = checkLimit("trainLimit", options.trainLimit);
  const testLimit = checkLimit("testLimit", options.testLimit);
  const layout = options.layout ?? "flat";
  if (layout !== "flat" && layout !== "nchw") {
    throw new RangeError(`Invalid layout: ${JSON.stringify(layout)}; expected "flat" (a (count, 784) matrix) or "nchw" (shape [count, 1, 28, 28])`);
  }
  const paths = locateFashionMnist(options.dir);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdx(paths.trainImages),
    readIdx(paths.trainLabels),
    readIdx(paths.testImages),
    readIdx(paths.testLabels),
  ]);
  const train = toLabelledImages(trainImages, paths.trainImages, trainLabels, paths.trainLabels, trainLimit);
  const test = toLabelledImages(testImages, paths.testImages, testLabels, paths.testLabels, testLimit);
  const common = { classNames: FASHION_MNIST_CLASSES, dir: paths.dir };
  if (layout === "flat") {
    return { train: flat(train), test: flat(test), ...common };
  }
  return { train: nchw(train), test: nchw(test), ...common };
}

interface Pixels {
  x: Float32Array;
  count: number;
  height: number;
  width: number;
  labels: Int32Array;
}

function flat(p: Pixels): LabelledImages<Matrix> {
  return { images: new Matrix(p.x, p.count, p.height * p.width), labels: p.labels };
}

function nchw(p: Pixels): LabelledImages<ImageArray> {
  return { images: { data: p.x, shape: [p.count, 1, p.height, p.width] }, labels: p.labels };
}

function checkLimit(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`Invalid ${name}: ${v}; expected a positive integer`);
  return v;
}

function toLabelledImages(
  images: IdxArray,
  imagesPath: string,
  labels: IdxArray,
  labelsPath: string,
  limit: number | undefined,
): Pixels {
  if (images.dtype !== "uint8" || images.shape.length !== 3) {
    throw new Error(
      `${imagesPath}: expected uint8 images of shape [count, rows, cols] but the file holds ${images.dtype} [${images.shape.join(", ")}]`,
    );
  }
  if (labels.dtype !== "uint8" || labels.shape.length !== 1) {
    throw new Error(
      `${labelsPath}: expected uint8 labels of shape [count] but the file holds ${labels.dtype} [${labels.shape.join(", ")}]`,
    );
  }
  const [count, h, w] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new Error(`${labelsPath} holds ${labels.shape[0]} labels but ${imagesPath} holds ${count} images`);
  }
  const n = Math.min(count, limit ?? count);
  const pixels = h * w;
  const src = images.data as Uint8Array;
  const x = new Float32Array(n * pixels);
  for (let i = 0; i < x.length; i++) x[i] = src[i]! / 255;
  const y = new Int32Array(n);
  const lab = labels.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    const c = lab[i]!;
    if (c >= FASHION_MNIST_CLASSES.length) {
      throw new Error(`${labelsPath}: label ${c} at index ${i} is out of range; expected 0..${FASHION_MNIST_CLASSES.length - 1}`);
    }
    y[i] = c;
  }
  return { x, count: n, height: h, width: w, labels: y };
}
