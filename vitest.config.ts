import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One run over every package, so CI gets one summary. Each package keeps its tests
// beside its code (`*.test.ts`) or under its own `test/`.
export default defineConfig({
  test: {
    projects: ['collector', 'shared', 'rater', 'api', 'bench'].map((dir) => ({
      extends: true,
      test: {
        name: dir,
        root: fileURLToPath(new URL(`./${dir}/`, import.meta.url)),
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      },
    })),
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
