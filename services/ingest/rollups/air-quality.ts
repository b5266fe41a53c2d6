import { airQualityLines } from '../../common/air-quality/points.ts';
import { airQualityReport, reportStations } from '../../common/air-quality/report.ts';
import type { InfluxQuery } from '../../common/influx.ts';
import type { Logger } from '../../common/logger.ts';
import { DAY_MS, windowStart } from '../../common/rollups.ts';
import type { DeviceTypeStore, Registry } from '../../registry/index.ts';
import type { LineSender } from '../writer.ts';

/**
 * Writes the running year's air-quality report (services/common/air-quality) into InfluxDB for the dashboards, once
 * the hourly rollups reach a new UTC day (and once after a start): the same computation the API's report makes, so
 * Grafana shows the same verdicts. A year's last report is the one written when the rollups reach its end.
 */
export class AirQualityPublisher {
  private publishedDay: number | undefined;

  constructor(
    private readonly deps: {
      influx: InfluxQuery;
      registry: Registry;
      types: DeviceTypeStore;
      sender: LineSender;
      defaultIntervalS: number;
      writeBatch: number;
      log: Logger;
    },
  ) {}

  /** Called after each rollup pass with how far the hourly rollups reach. */
  async afterPass(hourlyDoneUntil: number | undefined): Promise<void> {
    if (hourlyDoneUntil === undefined) return;
    const day = windowStart(hourlyDoneUntil, DAY_MS);
    if (day === this.publishedDay) return;
    const { registry, types, sender } = this.deps;
    const year = new Date(hourlyDoneUntil - 1).getUTCFullYear();
    const [devices, known] = await Promise.all([registry.listDevices(), types.list()]);
    const report = await airQualityReport(this.deps.influx, {
      year,
      stations: reportStations(devices, known, this.deps.defaultIntervalS),
      rollupsUntil: hourlyDoneUntil,
    });
    const lines = airQualityLines(report);
    for (let i = 0; i < lines.length; i += this.deps.writeBatch) {
      await sender.send(Buffer.from(lines.slice(i, i + this.deps.writeBatch).join('\n')));
    }
    this.publishedDay = day;
    this.deps.log.info({ year, stations: report.stations.length, points: lines.length }, 'air-quality report written');
  }
}
