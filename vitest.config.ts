import { defineConfig } from 'vitest/config';

// The workspace's packages export their built dist/ to users and their src/ under this condition,
// so tests import `@nightshift/*` exactly as users do, from source, with no build step.
const SOURCE = '@nightshift/source';

// Every package's tests run in one vitest invocation. Each test file starts its own redis-server
// (packages/testing), so files may run in parallel; the pool is kept small for a 2-core machine.
export default defineConfig({
  ssr: { resolve: { conditions: [SOURCE, 'module', 'node', 'development|production'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.ci/vitest-report.json' },
  },
});
