import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../../services/cli/platform.ts';
import { silentLogger } from '../../../../services/common/logger.ts';
import { apiClient } from '../../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../../helpers/env.ts';
import { startSmtpSink } from '../../../helpers/smtp-sink.ts';

/** The text part of a raw message as nodemailer writes it (quoted-printable for non-ASCII, else 7bit). */
const bodyOf = (raw: string) =>
  raw
    .slice(raw.indexOf('\r\n\r\n') + 4)
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .replace(/\r\n/g, '\n');

describe('e-mail notifications through a real SMTP server (smtp-server)', () => {
  let platform: Platform;
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let client: MqttClient;
  beforeAll(async () => {
    smtp = await startSmtpSink();
    platform = await startPlatform(
      testConfig({
        SUS_SMTP_URL: smtp.url,
        SUS_SMTP_FROM: 'SUS <alerts@sus.example>',
        SUS_PUBLIC_URL: 'https://sus.example',
      }),
      silentLogger,
    );
  });
  afterAll(async () => {
    await client?.endAsync(true);
    await platform?.stop();
    await smtp?.close();
  });

  it('mails the firing and the resolution to the rule’s recipients, in English', async () => {
    const api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    expect((await api('POST', '/v1/departments', { id: 'environment', name: 'environment' })).status).toBe(201);
    const dev = await api<{ credentials: { username: string; password: string; clientId: string } }>(
      'POST',
      '/v1/devices',
      { id: 'river-1', name: 'river-1', department: 'environment', type: 'water_gauge' },
    );
    const created = await api('POST', '/v1/rules', {
      owner: 'environment',
      id: 'river-high',
      name: 'River high',
      quantity: 'water_level',
      device: 'river-1',
      above: 1.5,
      notify: [{ type: 'email', to: ['duty@city.example', 'lead@city.example'] }],
    });
    expect([created.status, (created.body as { notify: unknown }).notify]).toStrictEqual([
      201,
      [{ type: 'email', to: ['duty@city.example', 'lead@city.example'], lang: 'en' }],
    ]);
    client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      ...dev.body.credentials,
      reconnectPeriod: 0,
    });
    const publish = (level: number) =>
      client.publishAsync('sus/v1/devices/river-1/up', JSON.stringify({ values: { water_level: level } }), {
        qos: 1,
      });
    await publish(1.7);
    await eventually(
      async () => smtp.mails.length,
      (n) => n === 1,
    );
    await publish(1.2);
    await eventually(
      async () => smtp.mails.length,
      (n) => n === 2,
    );
    await platform.alerting!.engine.idle();
    expect(smtp.mails.map((m) => [m.from, m.to])).toStrictEqual([
      ['alerts@sus.example', ['duty@city.example', 'lead@city.example']],
      ['alerts@sus.example', ['duty@city.example', 'lead@city.example']],
    ]);
    const subjects = smtp.mails.map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1]);
    expect(subjects).toStrictEqual(['[SUS] FIRING: River high (river-1)', '[SUS] RESOLVED: River high (river-1)']);
    const [alert] = (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-high')).body.alerts;
    expect(bodyOf(smtp.mails[0]!.raw)).toContain(`Device: river-1\n  Value: 1.7 m\n`);
    expect(bodyOf(smtp.mails[0]!.raw)).toContain(`  Details: https://sus.example/v1/alerts/${alert!.id}\n`);
    const deliveries = await api<{ deliveries: Array<{ url: string; state: string }> }>(
      'GET',
      `/v1/alerts/${alert!.id}/deliveries`,
    );
    expect(deliveries.body.deliveries.map((d) => [d.url, d.state])).toStrictEqual([
      ['mailto:duty%40city.example,lead%40city.example?lang=en', 'delivered'],
      ['mailto:duty%40city.example,lead%40city.example?lang=en', 'delivered'],
    ]);
  });
});
