import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n.ts';

/** A provisioning bundle as the API answers it (services/common/provisioning.ts builds it, nothing here does). */
export interface Bundle {
  device: string;
  department: string;
  type: string;
  mqtt: { urls: string[]; username: string; password: string; clientId: string };
}

/** The bundle as a QR code image (an SVG data URL: no inline script, no other host). */
function QrCode({ text }: { text: string }) {
  const [src, setSrc] = useState('');
  useEffect(() => {
    // Loaded on demand: the QR encoder is not part of the first page's budget.
    import('qrcode').then((q) => q.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then(setSrc));
  }, [text]);
  return src ? (
    <img class="qr" alt={t('bundle')} src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(src)}`} />
  ) : null;
}

/** The bundle to flash or scan (its password is shown this once), and the way to the device's live check. */
export function BundleCard({ bundle, checkLink = true }: { bundle: Bundle; checkLink?: boolean }) {
  return (
    <section class="card" aria-labelledby="bundle-title">
      <h2 id="bundle-title">
        {t('bundle')}: {bundle.device}
      </h2>
      <p>{t('bundleHint')}</p>
      <QrCode text={JSON.stringify(bundle)} />
      <details>
        <summary>JSON</summary>
        <pre class="bundle">{JSON.stringify(bundle, null, 2)}</pre>
      </details>
      {checkLink && (
        <p>
          <a class="button primary" href={`#/check/${encodeURIComponent(bundle.device)}`}>
            {t('liveCheck')}
          </a>
        </p>
      )}
    </section>
  );
}
