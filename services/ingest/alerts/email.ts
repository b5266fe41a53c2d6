import { createTransport, type Transporter } from 'nodemailer';
import type { AlertNotice } from '../../common/rules.ts';

export interface EmailOptions {
  /** smtp:// or smtps:// URL of the SMTP server, credentials included (SUS_SMTP_URL); unset: e-mail is not sent. */
  url: string | undefined;
  /** From header (SUS_SMTP_FROM). */
  from: string;
  /** One attempt's time limit (SUS_WEBHOOK_TIMEOUT_MS applies to e-mail too). */
  timeoutMs: number;
}

type Lang = 'en' | 'de';

const WORDS = {
  en: {
    state: { pending: 'PENDING', firing: 'FIRING', resolved: 'RESOLVED' },
    rule: 'Rule',
    device: 'Device',
    devices: 'Devices',
    value: 'Value',
    threshold: 'Threshold',
    time: 'Time',
    severity: 'Severity',
    department: 'Department',
    runbook: 'Runbook',
    link: 'Details',
    footer: 'Sent by SUS (Smart Urban Services). Silence or acknowledge the alert through the API.',
  },
  de: {
    state: { pending: 'AUSSTEHEND', firing: 'AUSGELÖST', resolved: 'BEHOBEN' },
    rule: 'Regel',
    device: 'Gerät',
    devices: 'Geräte',
    value: 'Wert',
    threshold: 'Schwelle',
    time: 'Zeit',
    severity: 'Schweregrad',
    department: 'Fachbereich',
    runbook: 'Handlungsanweisung',
    link: 'Details',
    footer: 'Gesendet von SUS (Smart Urban Services). Alarm über die API stummschalten oder bestätigen.',
  },
} as const;

const thresholdText = (n: AlertNotice): string => {
  const t = n.threshold;
  if (!t) return '-';
  const unit = n.unit ? ` ${n.unit}` : '';
  return t.op === 'above' || t.op === 'below' ? `${t.op} ${t.value}${unit}` : `${t.op} ${t.low}…${t.high}${unit}`;
};

/**
 * The message for one notice or a group of notices of one rule and state (a district-wide warning is one e-mail
 * listing its devices), in English or German; plain text, so every mail client shows it alike.
 */
export function renderEmail(notices: readonly AlertNotice[], lang: Lang): { subject: string; text: string } {
  const w = WORDS[lang];
  const first = notices[0]!;
  const state = w.state[first.state];
  const who = notices.length === 1 ? first.device : `${notices.length} ${w.devices}`;
  const subject = `[SUS] ${state}: ${first.rule.name} (${who})`;
  const lines = [
    `${w.rule}: ${first.rule.name} (${first.rule.id})`,
    `${w.severity}: ${first.rule.severity}`,
    `${w.department}: ${first.department}`,
    `${w.threshold}: ${thresholdText(first)}`,
    '',
  ];
  for (const n of notices) {
    const unit = n.unit ? ` ${n.unit}` : '';
    lines.push(`${w.device}: ${n.device}`, `  ${w.value}: ${n.value ?? '-'}${unit}`, `  ${w.time}: ${n.time}`);
    lines.push(`  ${w.link}: ${n.link}`);
  }
  if (first.description) lines.push('', first.description);
  if (first.runbook) lines.push('', `${w.runbook}: ${first.runbook}`);
  lines.push('', '--', w.footer, '');
  return { subject, text: lines.join('\n') };
}

/** `mailto:a%40x.de,b%40y.de?lang=de` (deliveryTarget's form) back to recipients and language. */
export function parseMailto(url: string): { to: string[]; lang: Lang } {
  const [addresses = '', query = ''] = url.slice('mailto:'.length).split('?');
  const lang = new URLSearchParams(query).get('lang') === 'de' ? 'de' : 'en';
  return { to: addresses.split(',').map(decodeURIComponent), lang };
}

/** Sends alert e-mails through one SMTP transport, made on the first message. */
export class EmailSender {
  private transport: Transporter | undefined;

  constructor(private readonly options: EmailOptions) {}

  /** undefined when the SMTP server accepted the message, else what went wrong. */
  async send(url: string, notices: readonly AlertNotice[], idempotencyKey: string): Promise<string | undefined> {
    if (!this.options.url) return 'SUS_SMTP_URL is unset: e-mail notifications cannot be sent';
    this.transport ??= createTransport({
      url: this.options.url,
      connectionTimeout: this.options.timeoutMs,
      greetingTimeout: this.options.timeoutMs,
      socketTimeout: this.options.timeoutMs,
    });
    const { to, lang } = parseMailto(url);
    const { subject, text } = renderEmail(notices, lang);
    try {
      await this.transport.sendMail({
        from: this.options.from,
        to,
        subject,
        text,
        // The delivery's idempotency key as the Message-ID: a resend is recognisable as the same message.
        messageId: `<${idempotencyKey}@sus.alerts>`,
        headers: { 'X-SUS-Alert': String(notices[0]!.alert) },
      });
      return undefined;
    } catch (err) {
      return `SMTP: ${(err as Error).message}`;
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = undefined;
  }
}
