import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../helpers/env.ts';
import { type RiverScene, startRiverScene } from '../../../helpers/river-alert.ts';
import { startSmtpSink } from '../../../helpers/smtp-sink.ts';

/** The text part of a raw message as nodemailer writes it (quoted-printable for non-ASCII, else 7bit). */
const bodyOf = (raw: string) =>
  raw
    .slice(raw.indexOf('\r\n\r\n') + 4)
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .replace(/\r\n/g, '\n');

describe('e-mail notifications through a real SMTP server (smtp-server)', () => {
  let scene: RiverScene<Awaited<ReturnType<typeof startSmtpSink>>>;
  beforeAll(async () => {
    scene = await startRiverScene(await startSmtpSink(), (smtp) => ({
      SUS_SMTP_URL: smtp.url,
      SUS_SMTP_FROM: 'SUS <alerts@sus.example>',
      SUS_PUBLIC_URL: 'https://sus.example',
    }));
  });
  afterAll(async () => {
    await scene?.close();
  });

  it('mails the firing and the resolution to the rule’s recipients, in English', async () => {
    const { api, platform, receiver: smtp, publish } = scene;
    const created = await scene.river([{ type: 'email', to: ['duty@city.example', 'lead@city.example'] }]);
    expect([created.status, (created.body as { notify: unknown }).notify]).toStrictEqual([
      201,
      [{ type: 'email', to: ['duty@city.example', 'lead@city.example'], lang: 'en' }],
    ]);
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
