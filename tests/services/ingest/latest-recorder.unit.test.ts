import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../services/common/logger.ts';
import { LatestRecorder, type LatestSink } from '../../../services/ingest/latest-recorder.ts';
import type { IngestedReading } from '../../../services/ingest/normalise.ts';
import type { LatestValue } from '../../../services/registry/index.ts';

const r = (device: string, quantity: string, value: number, time: number): IngestedReading => ({
  device,
  quantity,
  value,
  unit: 'Cel',
  time,
});

/** A sink that records each batch, and fails while `down` is set (the registry being away). */
function sink(): LatestSink & { batches: LatestValue[][]; down: boolean } {
  const s = {
    batches: [] as LatestValue[][],
    down: false,
    async upsert(values: readonly LatestValue[]) {
      if (s.down) throw new Error('registry unavailable');
      s.batches.push([...values]);
      return values.length;
    },
  };
  return s;
}

describe('LatestRecorder: the newest noted reading per device × quantity, one batch per flush', () => {
  it('writes one value per series, the newest noted (not the last noted), and nothing when nothing is pending', async () => {
    const store = sink();
    const rec = new LatestRecorder(store, 60_000, silentLogger);
    rec.note([r('a', 'pm10', 1, 1000), r('a', 'pm10', 3, 3000), r('b', 'pm10', 5, 1000)]);
    // A backlog noted after a newer reading.
    rec.note([r('a', 'pm10', 2, 2000)]);
    await rec.flush();
    await rec.flush();
    expect(store.batches).toStrictEqual([[r('a', 'pm10', 3, 3000), r('b', 'pm10', 5, 1000)]]);
  });

  it('keeps a failed batch for the next flush, where values noted meanwhile win when newer', async () => {
    const store = sink();
    const rec = new LatestRecorder(store, 60_000, silentLogger);
    rec.note([r('a', 'pm10', 1, 1000), r('b', 'pm10', 2, 1000)]);
    store.down = true;
    await rec.flush();
    store.down = false;
    rec.note([r('a', 'pm10', 9, 5000), r('b', 'pm10', 0, 500)]);
    await rec.stop();
    expect(store.batches).toStrictEqual([[r('a', 'pm10', 9, 5000), r('b', 'pm10', 2, 1000)]]);
  });
});
