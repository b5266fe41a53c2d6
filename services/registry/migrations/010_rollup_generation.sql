-- What an API node's cache of daily rollup points was read under (services/api/rollup-cache.ts): per quantity, a
-- number that moves whenever the rollup engine clears dirty marks, i.e. after it rewrote rollups of closed windows.
-- Read with the stale hours on every aggregate, so every node of one registry (embedded, split or clustered) drops
-- rewritten days at once. One row per catalogue quantity.
CREATE TABLE rollup_generation (
  measurement text PRIMARY KEY,
  generation bigint NOT NULL
);
