import { afterEach, describe, expect, it } from 'vitest';
import { catalogue } from '../../../services/common/catalogue.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import type { Reading, ReadingTags } from '../../../services/common/reading.ts';
import type { Uplink } from '../../../services/common/uplink.ts';
import type { DeviceLookup } from '../../../services/ingest/device-directory.ts';
import {
  type DeadLetterSink,
  type IngestDeadLetter,
  type IngestOptions,
  Ingestor,
} from '../../../services/ingest/ingestor.ts';
import type { PointWriter } from '../../../services/ingest/writer.ts';
import type { DeadLetterReason, Device } from '../../../services/registry/types.ts';

const NOW = 1_764_000_000_000; // 2025-11-24T16:00:00.000Z
const OPTIONS: IngestOptions = {
  maxPayloadBytes: 1024,
  timePolicy: { maxAgeMs: 7 * 24 * 3600e3, maxSkewMs: 300e3 },
  lastSeenFlushMs: 60_000,
};

const device = (id: string, over: Partial<Device> = {}): Device => ({
  id,
  name: `Sensor ${id}`,
  department: 'environment',
  type: 'air_quality',
  district: 'Altstadt',
  lat: 48.1,
  lon: 11.5,
  createdAt: '2025-01-01T00:00:00.000Z',
  lastSeenAt: null,
  ...over,
});

const DEVICES = new Map<string, Device>([
  ['aq-1', device('aq-1')],
  ['bin-7', device('bin-7', { department: 'waste', type: 'fill_sensor', district: null })],
]);

class FakeWriter implements PointWriter {
  readonly batches: string[][] = [];
  flushes = 0;
  write(lines: string[]): void {
    this.batches.push([...lines]);
  }
  async flush(): Promise<void> {
    this.flushes++;
  }
  get lines(): string[] {
    return this.batches.flat();
  }
}

class FakeStore implements DeadLetterSink {
  readonly deadLetters: IngestDeadLetter[] = [];
  readonly touched: { ids: string[]; at: Date }[] = [];
  failing = false;
  private nextId = 1;
  async addDeadLetter(d: IngestDeadLetter): Promise<number> {
    if (this.failing) throw new Error('registry down');
    this.deadLetters.push(d);
    return this.nextId++;
  }
  readonly summaries: Array<{ id: number; suppressed: number; reasons: DeadLetterReason[] }> = [];
  async updateSuppressed(id: number, suppressed: number, reasons: DeadLetterReason[]): Promise<void> {
    if (this.failing) throw new Error('registry down');
    this.summaries.push({ id, suppressed, reasons });
  }
  async touchDevices(ids: string[], at: Date): Promise<void> {
    if (this.failing) throw new Error('registry down');
    this.touched.push({ ids: [...ids], at });
  }
}

class FakeDirectory implements DeviceLookup {
  started = 0;
  stopped = 0;
  async get(id: string): Promise<Device | undefined> {
    return DEVICES.get(id);
  }
  cached(_id: string): { device: Device | undefined } | undefined {
    return undefined;
  }
  start(): void {
    this.started++;
  }
  stop(): void {
    this.stopped++;
  }
}

const uplink = (payload: string | Buffer, over: Partial<Uplink> = {}): Uplink => {
  const dev = over.device ?? 'aq-1';
  const channel = over.channel ?? 'up';
  return {
    device: dev,
    topic: `sus/v1/devices/${dev}/${channel}`,
    channel,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
    receivedAt: NOW,
    source: 'mqtt',
    ...over,
  };
};

const AQ1_TAGS = ',department=environment,device=aq-1,device_type=air_quality,district=Altstadt,source=mqtt';

const running: Ingestor[] = [];

const setup = () => {
  const writer = new FakeWriter();
  const store = new FakeStore();
  const directory = new FakeDirectory();
  const ingestor = new Ingestor({
    writer,
    store,
    directory,
    catalogue,
    log: silentLogger,
    options: OPTIONS,
  });
  ingestor.start();
  running.push(ingestor);
  return { writer, store, directory, ingestor };
};

afterEach(async () => {
  for (const i of running.splice(0)) await i.stop();
});

describe('Ingestor canonical messages', () => {
  it('writes exact line protocol with the device tags and source for a canonical message', async () => {
    const { writer, store, ingestor } = setup();
    const result = await ingestor.handle(
      uplink(JSON.stringify({ time: NOW - 1000, values: { air_temperature: 21, pm2_5: 7.5 } })),
    );
    expect(result).toStrictEqual({ accepted: 2, rejected: [] });
    expect(writer.batches).toStrictEqual([
      [`air_temperature${AQ1_TAGS} value=21.0 ${NOW - 1000}`, `pm2_5${AQ1_TAGS} value=7.5 ${NOW - 1000}`],
    ]);
    expect(store.deadLetters).toStrictEqual([]);
  });

  it('omits a missing district and takes department, type and source from the device and uplink', async () => {
    const { writer, ingestor } = setup();
    await ingestor.handle(uplink('{"values":{"fill":80}}', { device: 'bin-7', source: 'http' }));
    expect(writer.lines).toStrictEqual([
      `fill_level,department=waste,device=bin-7,device_type=fill_sensor,source=http value=80.0 ${NOW}`,
    ]);
  });

  it('writes every reading of a batch array with its own time', async () => {
    const { writer, ingestor } = setup();
    const batch = [
      { time: NOW - 3000, values: { air_temperature: 20 } },
      { time: NOW - 2000, values: { air_temperature: 20.5, co2: 410 } },
      { values: { air_temperature: 21 } },
    ];
    expect(await ingestor.handle(uplink(JSON.stringify(batch)))).toStrictEqual({ accepted: 4, rejected: [] });
    expect(writer.lines).toStrictEqual([
      `air_temperature${AQ1_TAGS} value=20.0 ${NOW - 3000}`,
      `air_temperature${AQ1_TAGS} value=20.5 ${NOW - 2000}`,
      `co2${AQ1_TAGS} value=410.0 ${NOW - 2000}`,
      `air_temperature${AQ1_TAGS} value=21.0 ${NOW}`,
    ]);
  });

  it('stores the values of a reference-firmware backlog whose readings carry `seq` and `dropped` counts', async () => {
    // devices/esp32: `dropped` counts readings the device lost before this one; ingest stores the values only.
    const { writer, store, ingestor } = setup();
    const batch = [
      { time: NOW - 2000, seq: 7, dropped: 6, values: { air_temperature: 20 } },
      { time: NOW - 1000, seq: 8, values: { air_temperature: 20.5 } },
    ];
    expect(await ingestor.handle(uplink(JSON.stringify(batch)))).toStrictEqual({ accepted: 2, rejected: [] });
    expect(writer.lines).toStrictEqual([
      `air_temperature${AQ1_TAGS} value=20.0 ${NOW - 2000}`,
      `air_temperature${AQ1_TAGS} value=20.5 ${NOW - 1000}`,
    ]);
    expect(store.deadLetters).toStrictEqual([]);
  });

  it('emits a readings event with the readings and the tags', async () => {
    const { ingestor } = setup();
    const events: [Reading[], ReadingTags][] = [];
    ingestor.on('readings', (readings, tags) => events.push([readings, tags]));
    await ingestor.handle(uplink(JSON.stringify({ time: NOW - 1000, values: { temp: 300 }, units: { temp: 'K' } })));
    expect(events.length).toStrictEqual(1);
    const [readings, tags] = events[0]!;
    expect(tags).toStrictEqual({
      device: 'aq-1',
      department: 'environment',
      district: 'Altstadt',
      device_type: 'air_quality',
      source: 'mqtt',
    });
    expect(readings.length).toStrictEqual(1);
    expect(readings[0]!.value).toBeCloseTo(26.85, 10);
    expect({ ...readings[0]!, value: 0 }).toStrictEqual({
      device: 'aq-1',
      quantity: 'air_temperature',
      value: 0,
      unit: 'Cel',
      time: NOW - 1000,
    });
  });

  it('emits no readings event when nothing was accepted', async () => {
    const { ingestor } = setup();
    let events = 0;
    ingestor.on('readings', () => events++);
    await ingestor.handle(uplink('{"values":{"foo":1}}'));
    expect(events).toStrictEqual(0);
  });
});

describe('Ingestor rejected messages', () => {
  it('dead-letters malformed JSON with INGEST_MALFORMED_JSON and the raw payload, writing nothing', async () => {
    const { writer, store, ingestor } = setup();
    const u = uplink('{"values": {"co2": 4');
    const result = await ingestor.handle(u);
    const reasons = [{ code: 'INGEST_MALFORMED_JSON', message: expect.stringMatching(/^payload is not JSON: /) }];
    expect(result).toStrictEqual({ accepted: 0, rejected: reasons, deadLetterId: 1 });
    expect(store.deadLetters).toStrictEqual([
      {
        source: 'mqtt',
        topic: 'sus/v1/devices/aq-1/up',
        device: 'aq-1',
        reasons,
        payload: Buffer.from('{"values": {"co2": 4'),
        receivedAt: new Date(NOW),
        format: 'canonical',
      },
    ]);
    expect(writer.batches).toStrictEqual([]);
  });

  it('dead-letters an empty values object with INGEST_INVALID_MESSAGE on the values field', async () => {
    const { writer, store, ingestor } = setup();
    await ingestor.handle(uplink('{"values":{}}'));
    expect(store.deadLetters.map((d) => d.reasons)).toStrictEqual([
      [{ code: 'INGEST_INVALID_MESSAGE', message: 'values must hold at least one quantity', field: 'values' }],
    ]);
    expect(writer.batches).toStrictEqual([]);
  });

  it('dead-letters other schema violations with INGEST_INVALID_MESSAGE', async () => {
    for (const payload of ['{"values":5}', '[]', '{}', '"text"', 'null', '{"time":true,"values":{"co2":400}}']) {
      const { writer, store, ingestor } = setup();
      const result = await ingestor.handle(uplink(payload));
      expect([payload, result.accepted, result.rejected.map((r) => r.code)]).toStrictEqual([
        payload,
        0,
        ['INGEST_INVALID_MESSAGE'],
      ]);
      expect(store.deadLetters.length).toStrictEqual(1);
      expect(writer.batches).toStrictEqual([]);
    }
  });

  it('reports the batch index in the field of an invalid batch element', async () => {
    const { store, ingestor } = setup();
    await ingestor.handle(uplink('[{"values":{"co2":400}},{"values":{}}]'));
    expect(store.deadLetters.map((d) => d.reasons)).toStrictEqual([
      [{ code: 'INGEST_INVALID_MESSAGE', message: 'values must hold at least one quantity', field: '1.values' }],
    ]);
  });

  it('dead-letters a payload over maxPayloadBytes with INGEST_PAYLOAD_TOO_LARGE', async () => {
    const { writer, store, ingestor } = setup();
    const payload = JSON.stringify({ values: { co2: 400 }, pad: 'x'.repeat(1100) });
    const result = await ingestor.handle(uplink(payload));
    expect(result).toStrictEqual({
      accepted: 0,
      rejected: [
        { code: 'INGEST_PAYLOAD_TOO_LARGE', message: `${Buffer.byteLength(payload)} bytes exceed the limit of 1024` },
      ],
      deadLetterId: 1,
    });
    expect(store.deadLetters[0]!.payload).toStrictEqual(Buffer.from(payload));
    expect(writer.batches).toStrictEqual([]);
  });

  it('accepts a payload of exactly maxPayloadBytes', async () => {
    const { store, ingestor } = setup();
    const base = JSON.stringify({ values: { co2: 400 }, pad: '' });
    const payload = JSON.stringify({ values: { co2: 400 }, pad: 'x'.repeat(1024 - base.length) });
    expect(Buffer.byteLength(payload)).toStrictEqual(1024);
    expect(await ingestor.handle(uplink(payload))).toStrictEqual({ accepted: 1, rejected: [] });
    expect(store.deadLetters).toStrictEqual([]);
  });

  it('dead-letters a channel without a decoder (up/xml) with INGEST_UNSUPPORTED_FORMAT and no format', async () => {
    const { writer, store, ingestor } = setup();
    const result = await ingestor.handle(uplink('<temp>21</temp>', { channel: 'up/xml' }));
    expect(result.rejected).toStrictEqual([
      {
        code: 'INGEST_UNSUPPORTED_FORMAT',
        message: "no decoder for channel 'up/xml' of topic sus/v1/devices/aq-1/up/xml",
      },
    ]);
    expect(store.deadLetters.map((d) => [d.topic, d.format])).toStrictEqual([
      ['sus/v1/devices/aq-1/up/xml', undefined],
    ]);
    expect(writer.batches).toStrictEqual([]);
  });

  it('dead-letters a message of an unknown device with INGEST_UNKNOWN_DEVICE', async () => {
    const { writer, store, ingestor } = setup();
    const result = await ingestor.handle(uplink('{"values":{"co2":400}}', { device: 'ghost' }));
    expect(result).toStrictEqual({
      accepted: 0,
      rejected: [{ code: 'INGEST_UNKNOWN_DEVICE', message: "device 'ghost' is not registered" }],
      deadLetterId: 1,
    });
    expect(store.deadLetters.map((d) => [d.device, d.topic])).toStrictEqual([['ghost', 'sus/v1/devices/ghost/up']]);
    expect(writer.batches).toStrictEqual([]);
  });

  it('writes the good values of a mixed message and dead-letters the bad ones in one entry', async () => {
    const { writer, store, ingestor } = setup();
    const payload = JSON.stringify({
      time: NOW - 1000,
      values: { air_temperature: 21, foo: 1, co2: 'high', pm10: 12.5, noise: 900, humidity: 50 },
      units: { humidity: 'Pa' },
    });
    const result = await ingestor.handle(uplink(payload));
    expect(writer.lines).toStrictEqual([
      `air_temperature${AQ1_TAGS} value=21.0 ${NOW - 1000}`,
      `pm10${AQ1_TAGS} value=12.5 ${NOW - 1000}`,
    ]);
    expect(store.deadLetters.length).toStrictEqual(1);
    expect(store.deadLetters[0]!.payload).toStrictEqual(Buffer.from(payload));
    expect(store.deadLetters[0]!.reasons.map((r) => [r.code, r.field])).toStrictEqual([
      ['INGEST_UNKNOWN_QUANTITY', 'values.foo'],
      ['INGEST_NOT_A_NUMBER', 'values.co2'],
      ['INGEST_OUT_OF_RANGE', 'values.noise'],
      ['INGEST_UNIT_UNSUPPORTED', 'units.humidity'],
    ]);
    expect([result.accepted, result.rejected.length, result.deadLetterId]).toStrictEqual([2, 4, 1]);
  });

  it('prefixes reason fields with the batch index of a mixed batch', async () => {
    const { writer, store, ingestor } = setup();
    await ingestor.handle(uplink('[{"values":{"co2":400}},{"values":{"x":1,"co2":null}}]'));
    expect(writer.lines).toStrictEqual([`co2${AQ1_TAGS} value=400.0 ${NOW}`]);
    expect(store.deadLetters[0]!.reasons.map((r) => [r.code, r.field])).toStrictEqual([
      ['INGEST_UNKNOWN_QUANTITY', '1.values.x'],
      ['INGEST_NOT_A_NUMBER', '1.values.co2'],
    ]);
  });

  it('gives dead letters incrementing ids', async () => {
    const { ingestor } = setup();
    const ids = [];
    for (const p of ['x', '{}', '{"values":{"foo":1}}']) ids.push((await ingestor.handle(uplink(p))).deadLetterId);
    expect(ids).toStrictEqual([1, 2, 3]);
  });
});

describe('Ingestor resilience', () => {
  it('withholds the acknowledgement when the dead-letter store throws: SUS_ERR_DEAD_LETTER_UNAVAILABLE, 503', async () => {
    const { store, ingestor } = setup();
    store.failing = true;
    await expect(ingestor.handle(uplink('not json'))).rejects.toMatchObject({
      code: 'SUS_ERR_DEAD_LETTER_UNAVAILABLE',
      statusCode: 503,
      message: 'the dead-letter store did not take the message; not acknowledged, send it again',
      context: { device: 'aq-1', topic: 'sus/v1/devices/aq-1/up' },
    });
    expect(ingestor.stats.deadLetters).toStrictEqual(0);
  });

  it('spools the good readings of a mixed message but withholds the acknowledgement while the store throws', async () => {
    const { writer, store, ingestor } = setup();
    store.failing = true;
    await expect(ingestor.handle(uplink('{"values":{"co2":400,"foo":1}}'))).rejects.toMatchObject({
      code: 'SUS_ERR_DEAD_LETTER_UNAVAILABLE',
    });
    expect(writer.lines).toStrictEqual([`co2${AQ1_TAGS} value=400.0 ${NOW}`]);
    // Sent again once the store is back: the reading is spooled a second time (InfluxDB keeps one point), the
    // rejected value reaches the dead letters.
    store.failing = false;
    expect(await ingestor.handle(uplink('{"values":{"co2":400,"foo":1}}'))).toMatchObject({
      accepted: 1,
      deadLetterId: 1,
    });
    expect(writer.lines).toStrictEqual([`co2${AQ1_TAGS} value=400.0 ${NOW}`, `co2${AQ1_TAGS} value=400.0 ${NOW}`]);
  });

  it('withholds the acknowledgement when the device lookup fails: SUS_ERR_REGISTRY_UNAVAILABLE, no dead letter', async () => {
    const { directory, store, ingestor } = setup();
    directory.get = async () => {
      throw new Error('registry unreachable');
    };
    await expect(ingestor.handle(uplink('{"values":{"co2":400}}'))).rejects.toMatchObject({
      code: 'SUS_ERR_REGISTRY_UNAVAILABLE',
      statusCode: 503,
      message: 'the registry is unavailable, so the device could not be looked up; not acknowledged, send it again',
      context: { device: 'aq-1', topic: 'sus/v1/devices/aq-1/up' },
      // The registry's own words go to the log (the API logs an error's cause), never into an answer.
      cause: { error: 'registry unreachable' },
    });
    expect(store.deadLetters).toStrictEqual([]);
  });

  it('withholds the acknowledgement when the registry does not answer within registryTimeoutMs', async () => {
    const { writer, store } = setup();
    const directory = new FakeDirectory();
    const never = new Promise<never>(() => {});
    directory.get = () => never;
    const hanging = new Ingestor({
      writer,
      store: { addDeadLetter: () => never, updateSuppressed: async () => {}, touchDevices: async () => {} },
      directory,
      catalogue,
      log: silentLogger,
      options: { ...OPTIONS, registryTimeoutMs: 50 },
    });
    await expect(hanging.handle(uplink('{"values":{"co2":400}}'))).rejects.toMatchObject({
      code: 'SUS_ERR_REGISTRY_UNAVAILABLE',
      message: 'the registry is unavailable, so the device could not be looked up; not acknowledged, send it again',
      cause: { error: 'no answer within 50 ms' },
    });
    await expect(hanging.handle(uplink('not json'))).rejects.toMatchObject({
      code: 'SUS_ERR_DEAD_LETTER_UNAVAILABLE',
      message: 'the dead-letter store did not take the message; not acknowledged, send it again',
    });
    expect([writer.lines, store.deadLetters]).toStrictEqual([[], []]);
  });

  it('files a message that trips a bug (not a dependency fault) as a dead letter', async () => {
    const { writer, store } = setup();
    const buggy = new Ingestor({
      writer,
      store,
      directory: new FakeDirectory(),
      catalogue,
      log: silentLogger,
      options: OPTIONS,
      profiles: {
        get: () => {
          throw new TypeError('profile table corrupt');
        },
      },
    });
    expect(await buggy.handle(uplink('{"values":{"co2":400}}'))).toStrictEqual({
      accepted: 0,
      // The bug's own message goes to the log, not into the answer or the department's dead letter.
      rejected: [
        {
          code: 'INGEST_INVALID_MESSAGE',
          message: 'internal error while handling the message; the server log has the details',
        },
      ],
      deadLetterId: 1,
    });
  });

  it('takes a fresh cached device from the directory without asking the registry', async () => {
    const { directory, writer, ingestor } = setup();
    directory.cached = (id: string) => ({ device: DEVICES.get(id) });
    directory.get = async () => {
      throw new Error('registry unreachable');
    };
    const result = await ingestor.handle(uplink('{"values":{"co2":400}}'));
    expect(result).toStrictEqual({ accepted: 1, rejected: [] });
    expect(writer.lines).toStrictEqual([`co2${AQ1_TAGS} value=400.0 ${NOW}`]);
  });
});

describe('Ingestor stats', () => {
  it('counts messages, readings, dead letters, time adjustments and rejections by reason', async () => {
    const { ingestor } = setup();
    await ingestor.handle(uplink(JSON.stringify({ time: NOW, values: { co2: 400, pm10: 3 } })));
    await ingestor.handle(uplink('{"values":{"co2":400,"foo":1,"bar":2,"pm10":"x"}}'));
    await ingestor.handle(uplink('nope'));
    await ingestor.handle(uplink('{"values":{"co2":1}}', { device: 'ghost' }));
    expect(ingestor.stats).toStrictEqual({
      messages: 4,
      readings: 3,
      deadLetters: 3,
      deadLettersSuppressed: 0,
      timeAdjusted: 1,
      flagged: {},
      replays: 0,
      rejectedByReason: {
        INGEST_UNKNOWN_QUANTITY: 2,
        INGEST_NOT_A_NUMBER: 1,
        INGEST_MALFORMED_JSON: 1,
        INGEST_UNKNOWN_DEVICE: 1,
      },
    });
  });
});

describe('Ingestor lifecycle', () => {
  it('starts and stops the device directory', async () => {
    const { directory, ingestor } = setup();
    expect(directory.started).toStrictEqual(1);
    await ingestor.stop();
    expect(directory.stopped).toStrictEqual(1);
  });

  it('stop() flushes last-seen with every device that sent readings, and flushes the writer', async () => {
    const { writer, store, ingestor } = setup();
    await ingestor.handle(uplink('{"values":{"co2":400}}'));
    await ingestor.handle(uplink('{"values":{"fill":10}}', { device: 'bin-7' }));
    await ingestor.handle(uplink('{"values":{"co2":401}}'));
    await ingestor.handle(uplink('{"values":{"co2":1}}', { device: 'ghost' }));
    await ingestor.handle(uplink('{"values":{"foo":1}}', { device: 'bin-7' }));
    const before = Date.now();
    await ingestor.stop();
    expect(store.touched.map((t) => t.ids)).toStrictEqual([['aq-1', 'bin-7']]);
    expect(store.touched[0]!.at.getTime()).toBeGreaterThanOrEqual(before);
    expect(writer.flushes).toStrictEqual(1);
  });

  it('stop() does not touch devices when none sent readings', async () => {
    const { store, ingestor } = setup();
    await ingestor.handle(uplink('{"values":{"foo":1}}'));
    await ingestor.stop();
    expect(store.touched).toStrictEqual([]);
  });

  it('stop() does not reject when touchDevices throws', async () => {
    const { store, ingestor } = setup();
    await ingestor.handle(uplink('{"values":{"co2":400}}'));
    store.failing = true;
    await expect(ingestor.stop()).resolves.toStrictEqual(undefined);
  });
});
