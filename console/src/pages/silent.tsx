import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { t } from '../i18n.ts';

interface SilentDevice {
  id: string;
  name: string;
  district: string | null;
  lastSeenAt: string | null;
}

/** Devices that stopped reporting (more than SUS_SILENT_FACTOR expected intervals without data). */
export function SilentPage() {
  const [devices, setDevices] = useState<SilentDevice[] | null>(null);
  useEffect(() => {
    api<{ devices: SilentDevice[] }>('GET', '/v1/devices/silent').then((r) => setDevices(r.devices));
  }, []);
  return (
    <section class="card">
      <h1>{t('silent')}</h1>
      {devices?.length === 0 && <p>{t('none')}</p>}
      {devices && devices.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('deviceId')}</th>
              <th scope="col">{t('name')}</th>
              <th scope="col">{t('district')}</th>
              <th scope="col">{t('lastSeen')}</th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => (
              <tr>
                <td>
                  <a href={`#/device/${encodeURIComponent(d.id)}`}>{d.id}</a>
                </td>
                <td>{d.name}</td>
                <td>{d.district ?? '—'}</td>
                <td>{d.lastSeenAt ? new Date(d.lastSeenAt).toLocaleString() : t('never')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
