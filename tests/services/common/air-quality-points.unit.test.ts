import { describe, expect, it } from 'vitest';
import { airQualityLines } from '../../../services/common/air-quality/points.ts';
import type { AirQualityReport } from '../../../services/common/air-quality/report.ts';

describe('air-quality report as InfluxDB points (for the dashboards)', () => {
  it('writes one point per station, pollutant and limit at the first instant of the year', () => {
    const report = {
      year: 2025,
      stations: [
        {
          device: 'aq 1',
          name: 'x',
          department: 'environment',
          district: null,
          pollutants: [
            {
              quantity: 'pm10',
              unit: 'ug/m3',
              samplesPerHour: 4,
              minSamplesPerHour: 3,
              hoursInYear: 8760,
              validHours: 8003,
              dataCapture: 0.5,
              validDays: 333,
              annualMean: null,
              limits: [
                {
                  standard: '2008/50/EC',
                  applies: true,
                  period: 'day',
                  value: 50,
                  maxExceedances: 35,
                  exceedances: 31,
                  verdict: 'met',
                  source: 'Annex XI',
                },
                {
                  standard: '(EU) 2024/2881',
                  applies: false,
                  period: 'year',
                  value: 20,
                  maxExceedances: null,
                  exceedances: null,
                  verdict: 'insufficient data',
                  source: 'Annex I',
                },
              ],
            },
          ],
        },
      ],
    } as unknown as AirQualityReport;
    expect(airQualityLines(report)).toStrictEqual([
      'sus_air_quality,department=environment,device=aq\\ 1,period=day,quantity=pm10,standard=2008/50/EC limit_value=50.0,max_exceedances=35i,exceedances=31i,data_capture=0.5,valid_hours=8003i,valid_days=333i,verdict="met",applies=1i 1735689600000',
      'sus_air_quality,department=environment,device=aq\\ 1,period=year,quantity=pm10,standard=(EU)\\ 2024/2881 limit_value=20.0,data_capture=0.5,valid_hours=8003i,valid_days=333i,verdict="insufficient data",applies=0i 1735689600000',
    ]);
  });
});
