import { defineConfig } from 'vitest/config';

/** `npm run test:containers`: the opt-in suite that needs a Docker engine; `npm test` never picks it up. */
export default defineConfig({
  test: {
    include: ['tests/containers/**/*.containers.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    testTimeout: 120_000,
    // Pulling the InfluxDB and Grafana images on a fresh machine takes minutes.
    hookTimeout: 600_000,
  },
});
