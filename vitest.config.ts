import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup/yield-between-tests.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native training uses OpenBLAS threads; running test files two at a time on a 2-core machine
    // keeps timings sane without serialising everything.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
