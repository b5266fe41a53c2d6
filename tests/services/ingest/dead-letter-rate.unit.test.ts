import { describe, expect, it } from 'vitest';
import { DeadLetterRate, type SummaryStore } from '../../../services/ingest/dead-letter-rate.ts';
import type { DeadLetterReason, NewIngestDeadLetter } from '../../../services/registry/index.ts';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const WINDOW = 600_000;

class FakeStore implements SummaryStore {
  readonly rows: NewIngestDeadLetter[] = [];
  readonly updates: Array<{ id: number; suppressed: number; reasons: DeadLetterReason[] }> = [];
  failing = false;
  async addDeadLetter(d: NewIngestDeadLetter): Promise<number> {
    if (this.failing) throw new Error('registry down');
    this.rows.push(d);
    return this.rows.length;
  }
  async updateSuppressed(id: number, suppressed: number, reasons: DeadLetterReason[]): Promise<void> {
    if (this.failing) throw new Error('registry down');
    this.updates.push({ id, suppressed, reasons });
  }
}

const reject = (device: string | null, code = 'INGEST_MALFORMED_JSON'): NewIngestDeadLetter => ({
  source: 'mqtt',
  topic: `sus/v1/devices/${device}/up`,
  device,
  reasons: [{ code, message: 'x' }],
  payload: Buffer.from(`payload of ${device}`),
  format: 'canonical',
});

/** What ingest does per reject: file it while the device is within its rate, else count it into the summary. */
async function file(rate: DeadLetterRate, store: FakeStore, d: NewIngestDeadLetter, now: number): Promise<number> {
  const key = DeadLetterRate.key(d.device, d.source);
  return rate.admit(key, now) ? store.addDeadLetter(d) : rate.suppress(key, d, now);
}

describe('DeadLetterRate', () => {
  it('files a device up to its limit, then counts its rejects into one summary row with the first as sample', async () => {
    const store = new FakeStore();
    const rate = new DeadLetterRate({ limit: 3, windowMs: WINDOW }, store);
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(
        await file(rate, store, reject('aq-1', i % 2 ? 'INGEST_NOT_A_NUMBER' : 'INGEST_MALFORMED_JSON'), T0 + i),
      );
    }
    // Another device is not held back by aq-1.
    expect(await file(rate, store, reject('aq-2'), T0 + 20)).toBe(5);
    expect(ids).toStrictEqual([1, 2, 3, 4, 4, 4, 4, 4, 4, 4]);
    expect(rate.suppressed).toBe(7);
    expect(store.rows[3]).toStrictEqual({
      ...reject('aq-1', 'INGEST_NOT_A_NUMBER'),
      suppressed: 1,
      reasons: [
        {
          code: 'INGEST_DEAD_LETTERS_SUPPRESSED',
          message:
            "1 rejected messages of 'aq-1' from 2026-03-01T10:00:00.003Z to 2026-03-01T10:00:00.003Z are counted here, " +
            'not filed one by one: more than 3 dead letters within 600 s (SUS_DEAD_LETTER_RATE); the payload is the ' +
            'first of them. By reason: INGEST_NOT_A_NUMBER ×1',
        },
      ],
    });
    await rate.flush(T0 + 30);
    expect(store.updates).toStrictEqual([
      {
        id: 4,
        suppressed: 7,
        reasons: [
          {
            code: 'INGEST_DEAD_LETTERS_SUPPRESSED',
            message:
              "7 rejected messages of 'aq-1' from 2026-03-01T10:00:00.003Z to 2026-03-01T10:00:00.009Z are counted " +
              'here, not filed one by one: more than 3 dead letters within 600 s (SUS_DEAD_LETTER_RATE); the payload ' +
              'is the first of them. By reason: INGEST_MALFORMED_JSON ×3, INGEST_NOT_A_NUMBER ×4',
          },
        ],
      },
    ]);
    // Nothing changed: nothing written.
    await rate.flush(T0 + 40);
    expect(store.updates).toHaveLength(1);
  });

  it('starts afresh in the next window and still writes the last counts of the closed one', async () => {
    const store = new FakeStore();
    const rate = new DeadLetterRate({ limit: 1, windowMs: WINDOW }, store);
    for (let i = 0; i < 4; i++) await file(rate, store, reject('aq-1'), T0 + i);
    expect(store.rows.map((r) => r.suppressed)).toStrictEqual([undefined, 1]);
    expect(await file(rate, store, reject('aq-1'), T0 + WINDOW)).toBe(3);
    await rate.flush(T0 + WINDOW + 1);
    expect(store.updates.map((u) => [u.id, u.suppressed])).toStrictEqual([[2, 3]]);
  });

  it('counts rejects without a device by their source, and tracks a bounded number of devices', async () => {
    const store = new FakeStore();
    const rate = new DeadLetterRate({ limit: 1, windowMs: WINDOW }, store);
    await file(rate, store, reject(null), T0);
    await file(rate, store, reject(null), T0);
    expect(store.rows.map((r) => [r.device, r.suppressed])).toStrictEqual([
      [null, undefined],
      [null, 1],
    ]);
    // 20,000 made-up device ids: the first 10,000 get their own count, the rest share one.
    const many = new DeadLetterRate({ limit: 1, windowMs: WINDOW }, new FakeStore());
    let admitted = 0;
    for (let i = 0; i < 20_000; i++) if (many.admit(`d:ghost-${i}`, T0)) admitted++;
    expect(admitted).toBe(10_001);
  });

  it('refuses with the store when the summary row cannot be filed, and files it with the next reject', async () => {
    const store = new FakeStore();
    const rate = new DeadLetterRate({ limit: 1, windowMs: WINDOW }, store);
    await file(rate, store, reject('aq-1'), T0);
    store.failing = true;
    await expect(file(rate, store, reject('aq-1'), T0 + 1)).rejects.toThrow('registry down');
    store.failing = false;
    expect(await file(rate, store, reject('aq-1'), T0 + 2)).toBe(2);
    expect(store.rows.map((r) => r.suppressed)).toStrictEqual([undefined, 1]);
  });
});
