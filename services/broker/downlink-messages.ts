import type { Command, DesiredConfig } from '../registry/index.ts';

/**
 * What a device receives on `…/down/command` and `…/down/config`. It answers on `…/ack` with
 * `{"command": <id>, "status": "…"}` or `{"config": <version>, "status": "…"}`.
 */
export function commandMessage(c: Command): Buffer {
  return Buffer.from(JSON.stringify({ command: c.id, name: c.name, args: c.args, time: Date.parse(c.createdAt) }));
}

/** The full desired document with its version: applying it twice is harmless, so redelivery needs no bookkeeping. */
export function configMessage(c: DesiredConfig): Buffer {
  return Buffer.from(JSON.stringify({ version: c.version, config: c.config, time: Date.parse(c.updatedAt) }));
}
