import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../../services/cli/platform.ts';
import type { Config } from '../../../../services/common/config.ts';
import { silentLogger } from '../../../../services/common/logger.ts';
import { apiClient } from '../../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../../helpers/env.ts';
import { startReceiver } from '../../../helpers/webhook-receiver.ts';

const SECRET = 'receiver-secret-0123456789';

describe('alerts across a restart (registry on disk): no firing alert lost, none notified twice', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-alerts-restart-'));
  const clients: MqttClient[] = [];
  let platform: Platform | undefined;
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const up = async (config: Config, creds: { username: string; password: string; clientId: string }) => {
    const p = await startPlatform(config, silentLogger);
    const client = await connectAsync(`mqtt://127.0.0.1:${p.mqttPort}`, { ...creds, reconnectPeriod: 0 });
    clients.push(client);
    const publish = (level: number) =>
      client.publishAsync('sus/v1/devices/weir-1/up', JSON.stringify({ values: { water_level: level } }), { qos: 1 });
    return { p, client, publish, api: apiClient(`http://127.0.0.1:${p.httpPort}`, TEST_ADMIN_KEY) };
  };

  it('keeps the firing alert and its pending delivery through a restart and notifies each change once', async () => {
    const steady = await startReceiver();
    const flaky = await startReceiver();
    flaky.answer(503);
    const config = testConfig({
      SUS_DATA_DIR: dir,
      SUS_WEBHOOK_BACKOFF_MS: '200',
      SUS_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1',
    });
    try {
      // First run: the rule fires; the steady receiver has it, the flaky one is down.
      platform = await startPlatform(config, silentLogger);
      const admin = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
      expect((await admin('POST', '/v1/departments', { id: 'drainage', name: 'Drainage' })).status).toBe(201);
      const dev = await admin<{ credentials: { username: string; password: string; clientId: string } }>(
        'POST',
        '/v1/devices',
        { id: 'weir-1', name: 'Weir', department: 'drainage', type: 'water_gauge' },
      );
      const creds = dev.body.credentials;
      const rule = await admin('POST', '/v1/rules', {
        owner: 'drainage',
        id: 'weir-high',
        name: 'Weir high',
        quantity: 'water_level',
        device: 'weir-1',
        above: 2,
        notify: [
          { type: 'webhook', url: `${steady.url}/steady`, secret: SECRET },
          { type: 'webhook', url: `${flaky.url}/flaky`, secret: SECRET },
        ],
      });
      expect(rule.status).toBe(201);
      await platform.stop();
      platform = undefined;

      let run = await up(config, creds);
      platform = run.p;
      await run.publish(2.4);
      await eventually(
        async () => steady.received.length,
        (n) => n === 1,
      );
      await run.client.endAsync(true);
      await run.p.stop();
      platform = undefined;

      // Second run on the same data directory: still firing, so a further high value notifies nobody.
      run = await up(config, creds);
      platform = run.p;
      await run.publish(2.6);
      await run.p.alerting!.engine.idle();
      const [alert] = (await run.api<{ alerts: Array<{ id: number; state: string }> }>('GET', '/v1/alerts')).body
        .alerts;
      expect(alert!.state).toBe('firing');
      expect(steady.received.length).toBe(1);
      // The delivery the flaky receiver missed was kept: it arrives once the receiver is up.
      flaky.answer(204);
      await eventually(
        async () => flaky.received.length,
        (n) => n === 1,
      );
      await run.publish(1.5);
      await eventually(
        async () => steady.received.length + flaky.received.length,
        (n) => n === 4,
      );
      const keys = (rs: typeof steady.received) => rs.map((r) => r.headers['idempotency-key']);
      expect([keys(steady.received), keys(flaky.received)]).toStrictEqual([
        [`alert-${alert!.id}-1-firing-0`, `alert-${alert!.id}-1-resolved-0`],
        [`alert-${alert!.id}-1-firing-1`, `alert-${alert!.id}-1-resolved-1`],
      ]);
      const history = await run.api<{ history: Array<{ state: string; value: number }> }>(
        'GET',
        `/v1/alerts/${alert!.id}/history`,
      );
      expect(history.body.history.map((e) => [e.state, e.value])).toStrictEqual([
        ['firing', 2.4],
        ['resolved', 1.5],
      ]);
    } finally {
      await steady.close();
      await flaky.close();
    }
    // Three platform lifecycles on an on-disk registry, each starting its rollup pass: more than the default 30 s on
    // a loaded 2-core machine.
  }, 90_000);
});
