import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type ConsoleSettings, type SessionInfo } from '../api.ts';
import { type Bundle, BundleCard } from '../bundle.tsx';
import { t } from '../i18n.ts';
import { LabelScanner } from '../scan.tsx';

interface DeviceType {
  id: string;
  name: string;
}

interface Claim {
  code: string;
  type: string;
  expiresAt: string;
}

const errorText = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

function LocationPicker({
  settings,
  value,
  onChange,
}: {
  settings: ConsoleSettings;
  value: [number, number] | null;
  onChange: (v: [number, number]) => void;
}) {
  const el = useRef<HTMLDivElement>(null);
  const marker = useRef<{ setLatLng(v: [number, number]): unknown } | null>(null);
  const mapRef = useRef<{ remove(): void } | null>(null);
  useEffect(() => {
    let gone = false;
    import('../map-view.ts').then(({ createMap, L }) => {
      if (gone || !el.current) return;
      const map = createMap(el.current, settings, 12);
      mapRef.current = map;
      map.on('click', (e: { latlng: { lat: number; lng: number } }) => onChange([e.latlng.lat, e.latlng.lng]));
      marker.current = L.circleMarker([0, 0], { radius: 8, color: '#0b5cad' }).addTo(map);
    });
    return () => {
      gone = true;
      mapRef.current?.remove();
    };
  }, []);
  useEffect(() => {
    if (value) marker.current?.setLatLng(value);
  }, [value]);
  const gps = () => navigator.geolocation?.getCurrentPosition((p) => onChange([p.coords.latitude, p.coords.longitude]));
  return (
    <fieldset>
      <legend>{t('location')}</legend>
      <button type="button" onClick={gps}>
        {t('useGps')}
      </button>{' '}
      <span>{t('tapMap')}</span>
      <div class="map small" ref={el} />
      <output name="location">{value ? `${value[0].toFixed(5)}, ${value[1].toFixed(5)}` : '—'}</output>
    </fieldset>
  );
}

/** The technician's page (phone first): find a device, add one and get its bundle, claim codes. */
export function FieldPage({ session, settings }: { session: SessionInfo; settings: ConsoleSettings }) {
  const [types, setTypes] = useState<DeviceType[]>([]);
  const [find, setFind] = useState('');
  const [form, setForm] = useState({ id: '', name: '', type: '', district: '', department: '' });
  const [where, setWhere] = useState<[number, number] | null>(null);
  const [bundle, setBundle] = useState<Bundle | null>(null);
  const [claims, setClaims] = useState<Claim[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ deviceTypes: DeviceType[] }>('GET', '/v1/device-types').then(
      (r) => {
        setTypes(r.deviceTypes);
        setForm((f) => ({ ...f, type: f.type || r.deviceTypes[0]?.id || '' }));
      },
      (err) => setError(errorText(err)),
    );
  }, []);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const claimBody = () => ({
    type: form.type,
    ...(session.department ? {} : { department: form.department }),
    ...(form.district ? { district: form.district } : {}),
    ...(form.name ? { name: form.name } : {}),
    ...(where ? { lat: where[0], lon: where[1] } : {}),
  });
  const add = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      // A one-time claim redeemed at once: the platform's one bundle builder answers the bundle.
      const claim = await api<Claim>('POST', '/v1/claims', claimBody());
      setBundle(
        await api<Bundle>('POST', '/v1/provision/claim', {
          code: claim.code,
          ...(form.id ? { id: form.id } : {}),
          ...(form.name ? { name: form.name } : {}),
        }),
      );
    } catch (err) {
      setError(errorText(err));
    }
  };
  const newClaim = async () => {
    setError('');
    try {
      const claim = await api<Claim>('POST', '/v1/claims', claimBody());
      setClaims([claim, ...claims]);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <div class="stack">
      <section class="card">
        <h1>{t('find')}</h1>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (find.trim()) location.hash = `#/check/${encodeURIComponent(find.trim())}`;
          }}
        >
          <label class="grow">
            {t('deviceId')}
            <input name="find" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit">{t('open')}</button>
        </form>
        <LabelScanner onFound={(id) => (location.hash = `#/check/${encodeURIComponent(id)}`)} />
      </section>
      <section class="card">
        <h2>{t('addDevice')}</h2>
        <form onSubmit={add}>
          {types.length > 0 ? (
            <label>
              {t('type')}
              <select name="type" value={form.type} onChange={set('type')}>
                {types.map((ty) => (
                  <option value={ty.id}>{ty.name}</option>
                ))}
              </select>
            </label>
          ) : (
            <label>
              {t('type')}
              <input name="type" required value={form.type} onInput={set('type')} />
            </label>
          )}
          {!session.department && (
            <label>
              Department
              <input name="department" required value={form.department} onInput={set('department')} />
            </label>
          )}
          <label>
            {t('deviceId')}
            <input name="id" value={form.id} onInput={set('id')} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" />
          </label>
          <label>
            {t('name')}
            <input name="name" value={form.name} onInput={set('name')} />
          </label>
          <label>
            {t('district')}
            <input name="district" value={form.district} onInput={set('district')} />
          </label>
          <LocationPicker settings={settings} value={where} onChange={setWhere} />
          <div class="row">
            <button type="submit" class="primary">
              {t('add')}
            </button>
            <button type="button" onClick={newClaim}>
              {t('createClaim')}
            </button>
          </div>
        </form>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </section>
      {bundle && <BundleCard bundle={bundle} />}
      {claims.length > 0 && (
        <section class="card">
          <h2>{t('claimCodes')}</h2>
          <ul class="claims">
            {claims.map((c) => (
              <li>
                <code>{c.code}</code> · {c.type} · {t('expires')} {new Date(c.expiresAt).toLocaleString()}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
