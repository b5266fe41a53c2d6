import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storableText } from '../../../services/registry/db.ts';
import { DownlinkStore } from '../../../services/registry/downlinks.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';

describe('device text the registry cannot store as it is (found by the MQTT fuzzer)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await openRegistry({
      DATABASE_URL: undefined,
      SUS_DATA_DIR: 'memory://',
      SUS_DEAD_LETTER_RAW_BYTES: 1024,
    });
  });
  afterAll(async () => registry?.close());

  it('storableText turns NUL and lone surrogates into U+FFFD and keeps everything else', () => {
    expect(['a\u0000b', 'x\ud800', '\udc00y', 'ok 😀', '\ud83d\ude00\ud83d', 'plain'].map(storableText)).toStrictEqual([
      'a\uFFFDb',
      'x\uFFFD',
      '\uFFFDy',
      'ok 😀',
      '😀\uFFFD',
      'plain',
    ]);
  });

  it('records an ack whose status holds a NUL or whose numbers exceed their columns, instead of refusing it', async () => {
    // Before: the insert failed, the broker withheld the PUBACK and closed the connection, the device resent forever.
    const store = new DownlinkStore(registry.db);
    const hostile = [
      '{"status":"a\\u0000b"}',
      '{"config":2147483648,"status":"ok"}',
      '{"command":9007199254740993}',
      'raw\u0000bytes',
    ];
    const acks = [];
    for (const text of hostile)
      acks.push(await store.recordAck('fz-dev', 'sus/v1/devices/fz-dev/ack', Buffer.from(text)));
    expect(acks.map((a) => [a.status, a.configVersion, a.command, a.payload])).toStrictEqual([
      ['a\uFFFDb', null, null, '{"status":"a\\u0000b"}'],
      [null, null, null, '{"config":2147483648,"status":"ok"}'],
      [null, null, null, '{"command":9007199254740993}'],
      [null, null, null, 'raw\uFFFDbytes'],
    ]);
  });

  it('files a dead letter whose reasons hold a lone surrogate (a JSON escape in the payload)', async () => {
    // Before: jsonb refused "\ud800", the entry was lost and only a log line kept the message.
    const id = await registry.deadLetters.add({
      source: 'mqtt',
      topic: 'sus/v1/devices/fz-dev/up/senml',
      device: 'fz-dev',
      reasons: [{ code: 'INGEST_INVALID_MESSAGE', message: "resolved name 'fz-dev:\ud800' is invalid", field: '0.n' }],
      payload: Buffer.from('[{"bn":"fz-dev:","n":"\\ud800","v":1}]'),
    });
    expect((await registry.deadLetters.get(id))?.reasons).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: "resolved name 'fz-dev:\uFFFD' is invalid", field: '0.n' },
    ]);
  });
});
