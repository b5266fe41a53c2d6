import { beforeEach, describe, expect, it } from 'vitest';
import { type Db, type DeadLetter, Registry } from '../../../services/registry/index.ts';
import { BACKENDS, expectPlausibleIso, listBase, unavailable, useRegistry } from './backends.ts';

describe.each(BACKENDS)('registry dead-letter rows on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const under = useRegistry(backend);
    let db: Db;
    let registry: Registry;
    beforeEach(() => {
      ({ db, registry } = under);
    });

    describe('dead letters', () => {
      const reasons = [
        { code: 'SUS_ERR_SCHEMA', message: 'bad field', field: 'temperature' },
        { code: 'SUS_ERR_UNIT', message: 'unknown unit' },
      ];

      it('roundtrips a text payload with its reasons and metadata', async () => {
        const receivedAt = new Date('2030-05-06T07:08:09.010Z');
        const payload = Buffer.from('{"t":21.5,"city":"Zürich"}', 'utf8');
        const id = await registry.deadLetters.add({
          source: 'mqtt',
          topic: 'sus/v1/env/aq-1/up',
          device: 'aq-1',
          reasons,
          payload,
          receivedAt,
        });
        expect(typeof id).toBe('number');
        expect(await listBase(registry, { limit: 10 })).toStrictEqual([
          {
            id,
            receivedAt: '2030-05-06T07:08:09.010Z',
            source: 'mqtt',
            topic: 'sus/v1/env/aq-1/up',
            device: 'aq-1',
            reasons,
            payload: '{"t":21.5,"city":"Zürich"}',
            payloadEncoding: 'utf8',
            payloadSize: payload.length,
            truncated: false,
          },
        ] satisfies DeadLetter[]);
      });

      it('defaults topic/device to null and receivedAt to now', async () => {
        const id = await registry.deadLetters.add({
          source: 'http',
          reasons: [{ code: 'X', message: 'x' }],
          payload: Buffer.from('hi'),
        });
        const [dl] = await listBase(registry, { limit: 1 });
        expectPlausibleIso(dl?.receivedAt);
        expect(dl).toStrictEqual({
          id,
          receivedAt: dl?.receivedAt,
          source: 'http',
          topic: null,
          device: null,
          reasons: [{ code: 'X', message: 'x' }],
          payload: 'hi',
          payloadEncoding: 'utf8',
          payloadSize: 2,
          truncated: false,
        });
      });

      it('returns a binary payload as base64', async () => {
        const id = await registry.deadLetters.add({
          source: 'mqtt',
          reasons,
          payload: Buffer.from([0xff, 0x00, 0xa1]),
        });
        const [dl] = await listBase(registry, { limit: 10 });
        expect(dl).toMatchObject({ id, payload: '/wCh', payloadEncoding: 'base64', payloadSize: 3, truncated: false });
        expect(Buffer.from(dl!.payload, 'base64')).toStrictEqual(Buffer.from([0xff, 0x00, 0xa1]));
      });

      it('returns an empty payload as empty text', async () => {
        await registry.deadLetters.add({ source: 'mqtt', reasons, payload: Buffer.alloc(0) });
        const [dl] = await listBase(registry, { limit: 10 });
        expect(dl).toMatchObject({ payload: '', payloadEncoding: 'utf8', payloadSize: 0, truncated: false });
      });

      it('truncates a payload above deadLetterRawBytes and records the original size', async () => {
        const small = new Registry(db, { rawBytes: 16 });
        const text = 'abcdefghijklmnopqrstuvwxyz0123456789'; // 36 bytes
        await small.deadLetters.add({ source: 'mqtt', reasons, payload: Buffer.from(text) });
        await small.deadLetters.add({ source: 'exact', reasons, payload: Buffer.from(text.slice(0, 16)) });
        const [exact, long] = await listBase(small, { limit: 10 });
        expect(long).toMatchObject({
          payload: 'abcdefghijklmnop',
          payloadEncoding: 'utf8',
          payloadSize: 36,
          truncated: true,
        });
        expect(exact).toMatchObject({
          payload: 'abcdefghijklmnop',
          payloadEncoding: 'utf8',
          payloadSize: 16,
          truncated: false,
        });
        const [row] = await db.query<{ n: number }>(
          'SELECT octet_length(payload) AS n FROM dead_letters WHERE truncated ORDER BY id',
        );
        expect(row).toStrictEqual({ n: 16 });
      });

      it('a binary payload is truncated to its first bytes and returned as base64', async () => {
        const small = new Registry(db, { rawBytes: 16 });
        const bytes = Buffer.from(Array.from({ length: 40 }, (_, i) => (0xff - i) & 0xff));
        await small.deadLetters.add({ source: 'mqtt', reasons, payload: bytes });
        const [dl] = await listBase(small, { limit: 1 });
        expect(dl).toMatchObject({ payloadEncoding: 'base64', payloadSize: 40, truncated: true });
        expect(Buffer.from(dl!.payload, 'base64')).toStrictEqual(bytes.subarray(0, 16));
      });

      it('a text payload cut inside a multi-byte character is returned losslessly as base64', async () => {
        const small = new Registry(db, { rawBytes: 16 });
        const payload = Buffer.from('aaaaaaaaaaaaaaaé tail', 'utf8'); // 'é' occupies bytes 15-16
        await small.deadLetters.add({ source: 'mqtt', reasons, payload });
        const [dl] = await listBase(small, { limit: 1 });
        expect(dl).toMatchObject({ payloadEncoding: 'base64', payloadSize: payload.length, truncated: true });
        expect(Buffer.from(dl!.payload, 'base64')).toStrictEqual(payload.subarray(0, 16));
      });

      describe('listing and filters', () => {
        let ids: Record<string, number>;

        beforeEach(async () => {
          const add = (name: string, d: { source: string; device: string | null; codes: string[]; at: string }) =>
            registry.deadLetters
              .add({
                source: d.source,
                device: d.device,
                topic: d.device ? `sus/v1/env/${d.device}/up` : null,
                reasons: d.codes.map((code) => ({ code, message: `${code} happened` })),
                payload: Buffer.from(name),
                receivedAt: new Date(d.at),
              })
              .then((id) => [name, id] as const);
          // Sequential, so ids increase in this order.
          const entries: (readonly [string, number])[] = [];
          entries.push(
            await add('e1', { source: 'mqtt', device: 'd1', codes: ['SCHEMA'], at: '2030-01-01T00:00:01Z' }),
          );
          entries.push(
            await add('e2', { source: 'mqtt', device: 'd2', codes: ['UNIT', 'SCHEMA'], at: '2030-01-01T00:00:02Z' }),
          );
          entries.push(await add('e3', { source: 'http', device: 'd1', codes: ['UNIT'], at: '2030-01-01T00:00:03Z' }));
          entries.push(
            await add('e4', { source: 'mqtt', device: null, codes: ['DECODE'], at: '2030-01-01T00:00:04Z' }),
          );
          entries.push(
            await add('e5', { source: 'mqtt', device: 'd1', codes: ['SCHEMA'], at: '2030-01-01T00:00:05Z' }),
          );
          ids = Object.fromEntries(entries);
        });

        const names = (list: DeadLetter[]) => list.map((d) => d.payload);

        it('lists newest first with increasing ids', async () => {
          expect(ids.e1! < ids.e2! && ids.e2! < ids.e3! && ids.e3! < ids.e4! && ids.e4! < ids.e5!).toBe(true);
          const list = await listBase(registry, { limit: 100 });
          expect(names(list)).toStrictEqual(['e5', 'e4', 'e3', 'e2', 'e1']);
          expect(list.map((d) => d.id)).toStrictEqual([ids.e5, ids.e4, ids.e3, ids.e2, ids.e1]);
          expect(list[1]).toStrictEqual({
            id: ids.e4,
            receivedAt: '2030-01-01T00:00:04.000Z',
            source: 'mqtt',
            topic: null,
            device: null,
            reasons: [{ code: 'DECODE', message: 'DECODE happened' }],
            payload: 'e4',
            payloadEncoding: 'utf8',
            payloadSize: 2,
            truncated: false,
          });
        });

        it('limit caps the number of entries', async () => {
          expect(names(await listBase(registry, { limit: 2 }))).toStrictEqual(['e5', 'e4']);
          expect(names(await listBase(registry, { limit: 0 }))).toStrictEqual([]);
        });

        it('filters by device', async () => {
          expect(names(await listBase(registry, { device: 'd1', limit: 100 }))).toStrictEqual(['e5', 'e3', 'e1']);
          expect(names(await listBase(registry, { device: 'ghost', limit: 100 }))).toStrictEqual([]);
        });

        it('filters by reason code (any of the reasons, jsonb containment)', async () => {
          expect(names(await listBase(registry, { reason: 'SCHEMA', limit: 100 }))).toStrictEqual(['e5', 'e2', 'e1']);
          expect(names(await listBase(registry, { reason: 'UNIT', limit: 100 }))).toStrictEqual(['e3', 'e2']);
          expect(names(await listBase(registry, { reason: 'SCHEMA happened', limit: 100 }))).toStrictEqual([]);
          expect(names(await listBase(registry, { reason: 'nope"]', limit: 100 }))).toStrictEqual([]);
        });

        it('filters by source', async () => {
          expect(names(await listBase(registry, { source: 'http', limit: 100 }))).toStrictEqual(['e3']);
          expect(names(await listBase(registry, { source: 'mqtt', limit: 100 }))).toStrictEqual([
            'e5',
            'e4',
            'e2',
            'e1',
          ]);
        });

        it('before is an exclusive id cursor for paging', async () => {
          const page1 = await listBase(registry, { limit: 2 });
          expect(names(page1)).toStrictEqual(['e5', 'e4']);
          const page2 = await listBase(registry, { limit: 2, before: page1.at(-1)!.id });
          expect(names(page2)).toStrictEqual(['e3', 'e2']);
          const page3 = await listBase(registry, { limit: 2, before: page2.at(-1)!.id });
          expect(names(page3)).toStrictEqual(['e1']);
          expect(names(await listBase(registry, { limit: 2, before: ids.e1! }))).toStrictEqual([]);
        });

        it('since keeps entries received at or after the given time', async () => {
          const since = new Date('2030-01-01T00:00:03Z');
          expect(names(await listBase(registry, { since, limit: 100 }))).toStrictEqual(['e5', 'e4', 'e3']);
        });

        it('combines filters with AND', async () => {
          expect(
            names(await listBase(registry, { device: 'd1', source: 'mqtt', reason: 'SCHEMA', limit: 100 })),
          ).toStrictEqual(['e5', 'e1']);
          expect(
            names(await listBase(registry, { device: 'd1', reason: 'SCHEMA', before: ids.e5!, limit: 100 })),
          ).toStrictEqual(['e1']);
          expect(names(await listBase(registry, { device: 'd1', reason: 'UNIT', limit: 1 }))).toStrictEqual(['e3']);
        });
      });
    });
  });
});
