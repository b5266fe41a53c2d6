import { useEffect, useState } from 'preact/hooks';
import { api, type SessionInfo } from '../api.ts';
import { t } from '../i18n.ts';

interface Grant {
  id: string;
  owner: string;
  grantee: string;
  title: string;
  quantities: string[];
}
interface AuditEntry {
  id: number;
  at: string;
  grantId: string;
  reader: string | null;
}
interface Dataset {
  id: string;
  title: string;
  owner: string;
  licence: string | null;
}

/** The data-trustee pages: grants given and received, the audit log of reads under them, open datasets. */
export function SharingPage({ session }: { session: SessionInfo }) {
  const [grants, setGrants] = useState<Grant[]>([]);
  const [audit, setAudit] = useState<AuditEntry[] | null>(null);
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  useEffect(() => {
    api<{ grants: Grant[] }>('GET', '/v1/grants').then((r) => setGrants(r.grants));
    api<{ datasets: Dataset[] }>('GET', '/v1/open/datasets').then((r) => setDatasets(r.datasets));
    if (session.scopes.includes('admin'))
      api<{ entries: AuditEntry[] }>('GET', '/v1/audit?limit=100').then((r) => setAudit(r.entries));
  }, []);
  const given = grants.filter((g) => session.department === null || g.owner === session.department);
  const received = grants.filter((g) => session.department !== null && g.owner !== session.department);
  const table = (rows: Grant[]) =>
    rows.length === 0 ? (
      <p>{t('none')}</p>
    ) : (
      <table>
        <tbody>
          {rows.map((g) => (
            <tr>
              <td>{g.title}</td>
              <td>
                {g.owner} → {g.grantee}
              </td>
              <td>{g.quantities.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  return (
    <div class="stack">
      <section class="card">
        <h1>{t('grants')}</h1>
        <h2>{t('grantsGiven')}</h2>
        {table(given)}
        <h2>{t('grantsReceived')}</h2>
        {table(received)}
      </section>
      {audit && (
        <section class="card">
          <h2>{t('audit')}</h2>
          {audit.length === 0 ? (
            <p>{t('none')}</p>
          ) : (
            <table>
              <tbody>
                {audit.map((a) => (
                  <tr>
                    <td>{new Date(a.at).toLocaleString()}</td>
                    <td>{a.grantId}</td>
                    <td>{a.reader ?? 'public'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      <section class="card">
        <h2>{t('openData')}</h2>
        {datasets.length === 0 ? (
          <p>{t('none')}</p>
        ) : (
          <ul>
            {datasets.map((d) => (
              <li>
                {d.title} · {d.owner} · {d.licence ?? '—'}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
