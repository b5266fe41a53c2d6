import { describe, expect, it } from 'vitest';
import type { AlertNotice } from '../../../../services/common/rules.ts';
import { deliveryTarget } from '../../../../services/common/rules.ts';
import { parseMailto, renderEmail } from '../../../../services/ingest/alerts/email.ts';

const notice = (device: string, value: number): AlertNotice => ({
  alert: 7,
  rule: { id: 'river-high', name: 'River high', kind: 'threshold', severity: 'critical' },
  state: 'firing',
  department: 'environment',
  device,
  quantity: 'water_level',
  value,
  unit: 'm',
  threshold: { op: 'above', value: 1.5, low: null, high: null },
  hysteresis: 0,
  time: '2026-12-01T10:00:00.000Z',
  link: `https://sus.example/v1/alerts/${device}`,
  description: '',
  runbook: 'https://wiki.example/flood',
});

describe('alert e-mail templates', () => {
  it('writes one alert in English', () => {
    expect(renderEmail([notice('river-1', 1.7)], 'en')).toStrictEqual({
      subject: '[SUS] FIRING: River high (river-1)',
      text: [
        'Rule: River high (river-high)',
        'Severity: critical',
        'Department: environment',
        'Threshold: above 1.5 m',
        '',
        'Device: river-1',
        '  Value: 1.7 m',
        '  Time: 2026-12-01T10:00:00.000Z',
        '  Details: https://sus.example/v1/alerts/river-1',
        '',
        'Runbook: https://wiki.example/flood',
        '',
        '--',
        'Sent by SUS (Smart Urban Services). Silence or acknowledge the alert through the API.',
        '',
      ].join('\n'),
    });
  });

  it('writes a group in German, one message listing every device', () => {
    const { subject, text } = renderEmail([notice('river-1', 1.7), notice('river-2', 1.8)], 'de');
    expect(subject).toBe('[SUS] AUSGELÖST: River high (2 Geräte)');
    expect(text.split('\n').filter((l) => l.startsWith('Gerät:') || l.startsWith('  Wert:'))).toStrictEqual([
      'Gerät: river-1',
      '  Wert: 1.7 m',
      'Gerät: river-2',
      '  Wert: 1.8 m',
    ]);
  });

  it('keeps recipients and language in the delivery log as a mailto: URI and reads them back', () => {
    const target = deliveryTarget({ type: 'email', to: ['a+b@x.de', 'c@y.de'], lang: 'de' });
    expect(target).toStrictEqual({ url: 'mailto:a%2Bb%40x.de,c%40y.de?lang=de', secret: '' });
    expect(parseMailto(target.url)).toStrictEqual({ to: ['a+b@x.de', 'c@y.de'], lang: 'de' });
  });
});
