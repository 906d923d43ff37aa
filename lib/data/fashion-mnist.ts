/**
 * Fashion-MNIST (Zalando: 70,000 28x28 grey images of clothes in 10 classes) from the IDX files the
 * Debian/Ubuntu package `dataset-fashion-mnist` installs under /usr/share/datasets/fashion-mnist.
 *
 * Images come back as a `(count, 784)` Matrix of pixels scaled to [0, 1]; labels as an Int32Array of
 * class indices 0..9 (see FASHION_MNIST_CLASSES).
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

export interface LabelledImages {
  /** `(count, 784)`, row-major 28x28 pixels scaled to [0, 1]. */
  images: Matrix;
  /** Class index 0..9 per image. */
  labels: Int32Array;
}

export interface FashionMnist {
  train: LabelledImages;
  test: LabelledImages;
  classNames: readonly string[];
  /** The directory the files were read from. */
  dir: string;
}

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
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnist> {
  checkOptions(options, ["dir", "trainLimit", "testLimit"], "loadFashionMnist");
  const trainLimit = checkLimit("trainLimit", options.trainLimit);
  const testLimit = checkLimit("testLimit", options.testLimit);
  const paths = locateFashionMnist(options.dir);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdx(paths.trainImages),
    readIdx(paths.trainLabels),
    readIdx(paths.testImages),
    readIdx(paths.testLabels),
  ]);
  return {
    train: toLabelledImages(trainImages, paths.trainImages, trainLabels, paths.trainLabels, trainLimit),
    test: toLabelledImages(testImages, paths.testImages, testLabels, paths.testLabels, testLimit),
    classNames: FASHION_MNIST_CLASSES,
    dir: paths.dir,
  };
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
): LabelledImages {
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
  return { images: new Matrix(x, n, pixels), labels: y };
}
