import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airQualityLimits } from '../../../services/common/air-quality/limits.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { DAY_MS, HOUR_MS } from '../../../services/common/rollups.ts';
import { testConfig } from '../../helpers/env.ts';
import { type RawReading, writeReadings } from '../../helpers/rollups.ts';
import { type Harness, startHarness } from './harness.ts';

/**
 * The air-quality report on a fixture year whose answers are computed by hand below (2025: 365 days, 8760 hours).
 *
 * Station aq-rep-1 (type aq_station, a reading every 900 s: 4 samples an hour, 3 make a valid hourly value):
 * - pm10: 20 µg/m³, except days 0–29 at 60 (720 hours), day 100 at 100 with hours 17–23 holding only 2 samples
 *   (invalid: the day has 17 valid hours, one short of a valid day), day 101 at 70 for hours 0–17 only (exactly 18
 *   valid hours: a valid day), day 200 hour 5 with exactly 3 samples (valid), and nothing in December (744 hours).
 *   Valid hours 8760 − 744 − 7 − 6 = 8003; sum 720·60 + 17·100 + 18·70 + (8003 − 720 − 17 − 18)·20 = 191,120;
 *   valid days 334 − 1 = 333; days above 50 (and above 45): days 0–29 and 101 = 31.
 * - no2: 30, with 20 hours at 250 (hour 12 of days 10–29; their days average 940/24 ≈ 39.2), nothing from
 *   1 November (day 304, 61 days = 1464 hours). Valid hours 7296 (capture 0.833, below both directives' minimum);
 *   sum 7296·30 + 20·220 = 223,280; valid days 304; hours above 200: 20.
 * - pm2_5: its type reports it, it sent nothing: listed with no valid hour.
 * Station aq-rep-2 (type aq_hourly, one reading an hour: 1 sample makes an hourly value), district Sued:
 * - pm2_5: 12, days 50–69 at 30 (480 hours). Sum 480·30 + 8280·12 = 113,760 over 8760 hours; days above 25: 20.
 * Station aq-rep-3 (a type the registry does not know: SUS_DEFAULT_INTERVAL_S 300, 12 samples an hour, 9 valid):
 * - pm10: 2 readings an hour on day 0 only. Listed, with no valid hour, rather than left out.
 */
const YEAR = 2025;
const Y0 = Date.UTC(YEAR, 0, 1);
const HOURS = 8760;

function fixtureYear(): RawReading[] {
  const out: RawReading[] = [];
  const station1 = { department: 'environment', district: 'Nord', type: 'aq_station', device: 'aq-rep-1' };
  const station2 = { department: 'environment', district: 'Sued', type: 'aq_hourly', device: 'aq-rep-2' };
  const station3 = { department: 'environment', district: 'Ost', type: 'aq_unknown', device: 'aq-rep-3' };
  const at = (hour: number, sample: number, everyS: number) => Y0 + hour * HOUR_MS + sample * everyS * 1000;
  for (let hour = 0; hour < HOURS; hour++) {
    const day = Math.floor(hour / 24);
    const h = hour % 24;
    // pm10 of station 1
    if (day < 334 && !(day === 101 && h >= 18)) {
      const value = day < 30 ? 60 : day === 100 ? 100 : day === 101 ? 70 : 20;
      const samples = day === 100 && h >= 17 ? 2 : day === 200 && h === 5 ? 3 : 4;
      for (let s = 0; s < samples; s++) out.push({ ...station1, q: 'pm10', value, time: at(hour, s, 900) });
    }
    // no2 of station 1
    if (day < 304) {
      const value = day >= 10 && day < 30 && h === 12 ? 250 : 30;
      for (let s = 0; s < 4; s++) out.push({ ...station1, q: 'no2', value, time: at(hour, s, 900) });
    }
    // pm2_5 of station 2
    out.push({ ...station2, q: 'pm2_5', value: day >= 50 && day < 70 ? 30 : 12, time: at(hour, 0, 3600) });
    // pm10 of station 3
    if (day === 0) for (let s = 0; s < 2; s++) out.push({ ...station3, q: 'pm10', value: 30, time: at(hour, s, 1800) });
  }
  return out;
}

const limit = (
  standard: string,
  period: 'hour' | 'day' | 'year',
  value: number,
  maxExceedances: number | null,
  exceedances: number | null,
  verdict: 'met' | 'exceeded' | 'insufficient data',
  source: string,
) => ({ standard, applies: standard === '2008/50/EC', period, value, maxExceedances, exceedances, verdict, source });
const OLD = '2008/50/EC';
const NEW = '(EU) 2024/2881';
const ANNEX_XI = 'Annex XI, Section B';
const TABLE_1 = 'Annex I, Section 1, Table 1';

const PM10 = {
  quantity: 'pm10',
  unit: 'ug/m3',
  samplesPerHour: 4,
  minSamplesPerHour: 3,
  hoursInYear: HOURS,
  validHours: 8003,
  dataCapture: 8003 / HOURS,
  validDays: 333,
  annualMean: 191_120 / 8003,
  limits: [
    limit(OLD, 'day', 50, 35, 31, 'met', ANNEX_XI),
    limit(OLD, 'year', 40, null, null, 'met', ANNEX_XI),
    limit(NEW, 'day', 45, 18, 31, 'exceeded', TABLE_1),
    limit(NEW, 'year', 20, null, null, 'exceeded', TABLE_1),
  ],
};
const NO2 = {
  quantity: 'no2',
  unit: 'ug/m3',
  samplesPerHour: 4,
  minSamplesPerHour: 3,
  hoursInYear: HOURS,
  validHours: 7296,
  dataCapture: 7296 / HOURS,
  validDays: 304,
  annualMean: 223_280 / 7296,
  limits: [
    // 20 hours above 200 are more than either directive allows, whatever the missing months held.
    limit(OLD, 'hour', 200, 18, 20, 'exceeded', ANNEX_XI),
    limit(OLD, 'year', 40, null, null, 'insufficient data', ANNEX_XI),
    limit(NEW, 'hour', 200, 3, 20, 'exceeded', TABLE_1),
    limit(NEW, 'day', 50, 18, 0, 'insufficient data', TABLE_1),
    limit(NEW, 'year', 20, null, null, 'insufficient data', TABLE_1),
  ],
};
const PM25_SILENT = {
  quantity: 'pm2_5',
  unit: 'ug/m3',
  samplesPerHour: 4,
  minSamplesPerHour: 3,
  hoursInYear: HOURS,
  validHours: 0,
  dataCapture: 0,
  validDays: 0,
  annualMean: null,
  limits: [
    limit(OLD, 'year', 25, null, null, 'insufficient data', 'Annex XIV, Section E'),
    limit(NEW, 'day', 25, 18, 0, 'insufficient data', TABLE_1),
    limit(NEW, 'year', 10, null, null, 'insufficient data', TABLE_1),
  ],
};
const PM25 = {
  quantity: 'pm2_5',
  unit: 'ug/m3',
  samplesPerHour: 1,
  minSamplesPerHour: 1,
  hoursInYear: HOURS,
  validHours: HOURS,
  dataCapture: 1,
  validDays: 365,
  annualMean: 113_760 / HOURS,
  limits: [
    limit(OLD, 'year', 25, null, null, 'met', 'Annex XIV, Section E'),
    limit(NEW, 'day', 25, 18, 20, 'exceeded', TABLE_1),
    limit(NEW, 'year', 10, null, null, 'exceeded', TABLE_1),
  ],
};
const PM10_NO_VALID_HOUR = {
  quantity: 'pm10',
  unit: 'ug/m3',
  samplesPerHour: 12,
  minSamplesPerHour: 9,
  hoursInYear: HOURS,
  validHours: 0,
  dataCapture: 0,
  validDays: 0,
  annualMean: null,
  limits: [
    limit(OLD, 'day', 50, 35, 0, 'insufficient data', ANNEX_XI),
    limit(OLD, 'year', 40, null, null, 'insufficient data', ANNEX_XI),
    limit(NEW, 'day', 45, 18, 0, 'insufficient data', TABLE_1),
    limit(NEW, 'year', 20, null, null, 'insufficient data', TABLE_1),
  ],
};
const STATION_1 = {
  device: 'aq-rep-1',
  name: 'Station Nord',
  department: 'environment',
  district: 'Nord',
  // The limit values' file order: pm10, pm2_5, no2.
  pollutants: [PM10, PM25_SILENT, NO2],
};
const STATION_2 = {
  device: 'aq-rep-2',
  name: 'Station Sued',
  department: 'environment',
  district: 'Sued',
  pollutants: [PM25],
};

const STATION_3 = {
  device: 'aq-rep-3',
  name: 'Station Ost',
  department: 'environment',
  district: 'Ost',
  pollutants: [PM10_NO_VALID_HOUR],
};

describe('air-quality report: EU limit values per station and pollutant from the hourly rollups', () => {
  let h: Harness;
  let rollupsUntil: string;

  beforeAll(async () => {
    const overrides = {
      INFLUX_DB: `sus_test_${randomBytes(4).toString('hex')}`,
      SUS_ROLLUP_INTERVAL_S: '3600',
      SUS_SELF_METRICS_INTERVAL_S: '3600',
      // The fixture year is older than the default raw retention; its readings must stay until rolled up.
      SUS_RAW_RETENTION_DAYS: '0',
    };
    const config = testConfig(overrides);
    await new InfluxQuery(config).ensureDatabase();
    await writeReadings(config, fixtureYear());
    h = await startHarness(overrides, true);
    const types = [
      { id: 'aq_station', expectedIntervalS: 900, quantities: ['pm10', 'pm2_5', 'no2'] },
      { id: 'aq_hourly', expectedIntervalS: 3600, quantities: ['pm2_5'] },
    ];
    for (const t of types) {
      const res = await h.admin('POST', '/v1/device-types', { ...t, name: t.id, profile: {} });
      expect(res.status).toBe(201);
    }
    for (const s of [STATION_1, STATION_2, STATION_3]) {
      const type = s === STATION_1 ? 'aq_station' : s === STATION_2 ? 'aq_hourly' : 'aq_unknown';
      const res = await h.admin('POST', '/v1/devices', {
        id: s.device,
        name: s.name,
        department: s.department,
        district: s.district,
        type,
      });
      expect(res.status).toBe(201);
    }
    await h.platform.rollups!.runOnce();
    const progress = await h.platform.registry.rollups.progress();
    rollupsUntil = new Date(progress['1h']!.doneUntil).toISOString();
  }, 120_000);
  afterAll(async () => h?.stop());

  const header = {
    year: YEAR,
    notice: airQualityLimits.notice,
    complete: true,
    validity: airQualityLimits.validity,
    standards: [
      {
        id: OLD,
        title: 'Directive 2008/50/EC on ambient air quality and cleaner air for Europe',
        url: 'https://eur-lex.europa.eu/eli/dir/2008/50/oj',
        applies: true,
        minDataCapture: 0.9,
        source: 'Annex I, Section A: minimum data capture 90 % (fixed and indicative measurements)',
      },
      {
        id: NEW,
        title:
          'Directive (EU) 2024/2881 on ambient air quality and cleaner air for Europe (recast), limit values to be attained by 1 January 2030',
        url: 'https://eur-lex.europa.eu/eli/dir/2024/2881/oj',
        applies: false,
        minDataCapture: 0.85,
        source:
          'Annex V: minimum data coverage of fixed measurements 85 % (PM10, PM2.5, NO2; annual and short-term averaging periods)',
      },
    ],
  };

  it('counts exceedance hours and days over valid values only, with data capture and a verdict per limit', async () => {
    const env = await h.as('environment', ['read']);
    const res = await env('GET', `/v1/reports/air-quality?year=${YEAR}&department=environment`);
    expect(res.status).toBe(200);
    expect(res.body).toStrictEqual({ ...header, rollupsUntil, stations: [STATION_1, STATION_2, STATION_3] });
  });

  it('says plainly that low-cost sensors give indicative measurements', () => {
    expect(airQualityLimits.notice).toMatch(/^Low-cost sensors give indicative measurements\./);
  });

  it('narrows to a district or a device', async () => {
    const env = await h.as('environment', ['read']);
    const district = await env('GET', `/v1/reports/air-quality?year=${YEAR}&department=environment&district=Sued`);
    expect(district.body).toStrictEqual({ ...header, rollupsUntil, stations: [STATION_2] });
    const device = await env('GET', `/v1/reports/air-quality?year=${YEAR}&device=aq-rep-1&quantity=pm10`);
    expect(device.body).toStrictEqual({ ...header, rollupsUntil, stations: [{ ...STATION_1, pollutants: [PM10] }] });
  });

  it('exports one CSV row per station, pollutant and limit, each marked indicative', async () => {
    const env = await h.as('environment', ['read']);
    const res = await env(
      'GET',
      `/v1/reports/air-quality?year=${YEAR}&department=environment&district=Sued&format=csv`,
    );
    expect(res.type).toBe('text/csv; charset=utf-8');
    const mean = String(113_760 / HOURS);
    expect(res.body).toBe(
      [
        'year,device,department,district,quantity,unit,standard,applies,period,limit_value,max_exceedances,exceedances,annual_mean,valid_hours,hours_in_year,data_capture,valid_days,verdict,measurement',
        `2025,aq-rep-2,environment,Sued,pm2_5,ug/m3,2008/50/EC,true,year,25,,,${mean},8760,8760,1,365,met,indicative`,
        `2025,aq-rep-2,environment,Sued,pm2_5,ug/m3,(EU) 2024/2881,false,day,25,18,20,${mean},8760,8760,1,365,exceeded,indicative`,
        `2025,aq-rep-2,environment,Sued,pm2_5,ug/m3,(EU) 2024/2881,false,year,10,,,${mean},8760,8760,1,365,exceeded,indicative`,
        '',
      ].join('\r\n'),
    );
  });

  it("applies another department's grant: its quantities and districts", async () => {
    const envAdmin = await h.as('environment', ['admin']);
    const grant = await envAdmin('POST', '/v1/grants', {
      grantee: 'traffic',
      title: 'Fine dust in the south',
      purpose: 'traffic planning',
      quantities: ['pm2_5'],
      districts: ['Sued'],
      expiresAt: new Date(Date.now() + DAY_MS).toISOString(),
    });
    expect(grant.status).toBe(201);
    const traffic = await h.as('traffic', ['read']);
    const shared = await traffic('GET', `/v1/reports/air-quality?year=${YEAR}&department=environment&quantity=pm2_5`);
    expect(shared.body).toStrictEqual({ ...header, rollupsUntil, stations: [STATION_2] });
    const all = await traffic<{ code: string }>('GET', `/v1/reports/air-quality?year=${YEAR}&department=environment`);
    expect(all.status).toBe(403);
    expect(all.body.code).toBe('SUS_ERR_NOT_SHARED');
  });

  it('is not complete while the year runs', async () => {
    const env = await h.as('environment', ['read']);
    const year = new Date().getUTCFullYear();
    const res = await env<{ complete: boolean; year: number }>(
      'GET',
      `/v1/reports/air-quality?year=${year}&department=environment`,
    );
    expect(res.body).toMatchObject({ year, complete: false });
  });
});
