'use strict';
// autocannon's setupClient for bench:api (api-load.ts), CommonJS because autocannon's worker threads load it by
// require(). autocannon (9.x) collects each body as text in its per-connection request queue; without a body check
// nothing reads it. Fails loudly if a later autocannon moved that queue, rather than measuring something else.
module.exports = function dropBodyText(client) {
  const queue = client?.pipelinedRequests;
  if (typeof queue?.addBody !== 'function')
    throw new Error('autocannon client has no pipelinedRequests.addBody: update tests/bench/api-load-client.cjs');
  queue.addBody = () => undefined;
};
