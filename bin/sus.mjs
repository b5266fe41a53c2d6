#!/usr/bin/env -S node --max-semi-space-size=64 --expose-gc
// --expose-gc: services/common/memory-reducer.ts gives a burst's heap back once the node is quiet (node's V8 keeps
// it otherwise: a broker node after a 10,000-device connect storm held ~400 MB instead of ~195 MB, issue 17).
// --max-semi-space-size=64 (MB): the message path allocates short-lived objects at ~10k messages/s; a larger young
// generation cuts scavenge time from ~20% of the CPU to a few % (bench:ingest: 63 → 45 µs per message).
// Runs the build in dist/ (`npm run build`) while it is newer than every source file: ~40 MB less RSS than the tsx
// loader (its thread and transform cache). Otherwise, and right after `npm ci`, the TypeScript runs through tsx, so
// `npx sus …` needs no build step.
import { compiledIsFresh } from './compiled.mjs';

if (compiledIsFresh()) {
  await import('../dist/services/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../services/cli/main.ts');
}
