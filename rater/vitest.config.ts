import { defineConfig } from 'vitest/config';

// Lets `vitest run` inside rater/ run this package alone; the root config's `rater` project runs the same files.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
