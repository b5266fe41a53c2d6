/**
 * bench:broker's floor: the Aedes the platform runs (same version, same in-memory persistence), alone in its own
 * process with the bench's password check and ACL in memory and nothing else — no registry, no ingest, no presence.
 * What it costs is Aedes' own share of a `sus broker` node's connect time; what is above it is the platform's.
 * Usage: node aedes-alone.mjs <devices>; prints `port <n>` once it listens.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const devices = Number(process.argv[2] ?? 10_000);
// The registry's scheme (services/registry/secrets.ts): a SHA-256 of the secret, compared in constant time.
const sha256 = (s) => createHash('sha256').update(s).digest();
const secrets = new Map();
for (let i = 0; i < devices; i++) secrets.set(`bench-${i}`, sha256(`secret-${i}`));

const aedes = await Aedes.createBroker({ maxClientsIdLength: 128 });
aedes.authenticate = (client, username, password, done) => {
  const stored = username === undefined ? undefined : secrets.get(username);
  const ok =
    stored !== undefined &&
    password !== undefined &&
    client.id === username &&
    timingSafeEqual(sha256(password), stored);
  done(ok ? null : Object.assign(new Error('bad username or password'), { returnCode: 4 }), ok);
};
// The ACL of the mosquitto peer: each device publishes under its own prefix and reads its downlinks.
const own = (client, topic, kind) => topic.startsWith(`sus/v1/devices/${client.id.split(':')[0]}/${kind}`);
aedes.authorizePublish = (client, packet, done) =>
  done(own(client, packet.topic, 'up') || own(client, packet.topic, 'ack') ? null : new Error('not allowed'));
aedes.authorizeSubscribe = (client, sub, done) => done(null, own(client, sub.topic, 'down') ? sub : null);

const server = createServer(aedes.handle);
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
process.on('SIGTERM', () => aedes.close(() => server.close(() => process.exit(0))));
