import { EventEmitter } from 'node:events';
import type { Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { type Session, Sessions } from '../../../services/broker/sessions.ts';
import type { Device } from '../../../services/registry/index.ts';

/** An Aedes client as far as Sessions sees it: its socket, which (as in Aedes) names the client as `conn.client`. */
function client(id: string, onSocket = true): Client {
  const conn = new EventEmitter() as EventEmitter & { client?: unknown };
  const c = { id, conn } as unknown as Client;
  if (onSocket) conn.client = c;
  return c;
}
const device = (id: string): Session => ({ kind: 'device', device: { id } as Device, address: '127.0.0.1' });
const service = (keyId: string): Session => ({
  kind: 'service',
  name: 'svc',
  rights: { read: true, write: true, department: null },
  keyId,
  token: Buffer.from('t'),
  address: '127.0.0.1',
});

describe('Sessions: connections per device and key until each socket closes', () => {
  it('lists every connection of a device or key and forgets each once its socket closes', () => {
    const sessions = new Sessions();
    const [a1, a2, b, k] = [client('a'), client('a:2'), client('b'), client('@svc/x')];
    sessions.add(a1, device('a'));
    sessions.add(a2, device('a'));
    sessions.add(b, device('b'));
    sessions.add(k, service('key-1'));
    expect([sessions.ofDevice('a'), sessions.ofDevice('b'), sessions.ofKey('key-1')]).toStrictEqual([
      [a1, a2],
      [b],
      [k],
    ]);
    a1.conn.emit('close');
    expect(sessions.ofDevice('a')).toStrictEqual([a2]);
    for (const c of [a2, b, k]) c.conn.emit('close');
    expect([sessions.ofDevice('a'), sessions.ofKey('key-1'), sessions.owners]).toStrictEqual([[], [], 0]);
  });

  it('also forgets a connection whose socket does not name its client (another transport)', () => {
    const sessions = new Sessions();
    const c = client('c', false);
    sessions.add(c, device('c'));
    expect(sessions.ofDevice('c')).toStrictEqual([c]);
    c.conn.emit('close');
    expect(sessions.owners).toBe(0);
  });
});
