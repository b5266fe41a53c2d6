import { SELF_METRICS } from '../../services/common/self-metrics.ts';
import { buildDashboard } from './dashboard.ts';
import { influxql } from './datasource.ts';
import { stat, timeseries } from './panels.ts';
import { tagFilter, tagVariable } from './variables.ts';

const M = SELF_METRICS;
const N = tagFilter(['node']);

/** Self-metrics are counts per write interval; summing them per dashboard interval gives events per interval. */
const perInterval = (measurement: string, fields: Record<string, string>, groupBy = '') =>
  influxql(
    `SELECT ${Object.entries(fields)
      .map(([alias, expr]) => `${expr} AS "${alias}"`)
      .join(', ')} FROM "${measurement}" WHERE ${N} AND $timeFilter GROUP BY time($__interval)${groupBy} fill(none)`,
  );

export const pipeline = () =>
  buildDashboard({
    uid: 'sus-pipeline',
    title: 'SUS · Platform pipeline health',
    description:
      'The platform watching itself: ingest rate, rejects, dead letters, the durable spool, InfluxDB writes, rollups and the broker.',
    tags: ['platform', 'operations'],
    variables: [tagVariable('node', [M.ingest, M.spool, M.writes, M.broker, M.rollup])],
    panels: [
      timeseries({
        title: 'Ingest rate',
        description: 'Messages received and readings stored per interval, and readings whose device time was replaced.',
        unit: 'none',
        targets: [
          perInterval(M.ingest, {
            messages: 'sum("messages")',
            readings: 'sum("readings")',
            'time adjusted': 'sum("time_adjusted")',
          }),
        ],
      }),
      timeseries({
        title: 'Rejects by reason',
        description: 'Rejected messages and values per interval, by reason code.',
        unit: 'none',
        bars: true,
        targets: [perInterval(M.ingestRejects, { rejects: 'sum("count")' }, ', "reason"').alias('$tag_reason')],
      }),
      timeseries({
        title: 'Dead letters',
        description:
          'Messages stored in the dead-letter store per interval (list and replay them with the API or CLI).',
        unit: 'none',
        bars: true,
        targets: [perInterval(M.ingest, { 'dead letters': 'sum("dead_letters")' })],
      }),
      stat({
        title: 'Dead letters in range',
        description: 'Messages dead-lettered in the selected time range.',
        unit: 'none',
        width: 12,
        height: 8,
        steps: [{ value: 1, color: 'orange', label: 'at least one dead letter' }],
        targets: [influxql(`SELECT sum("dead_letters") FROM "${M.ingest}" WHERE ${N} AND $timeFilter`)],
      }),
      timeseries({
        title: 'Spool depth',
        description: 'Readings waiting in the durable spool for InfluxDB, per node (0 when InfluxDB keeps up).',
        unit: 'none',
        steps: [{ value: 1, color: 'orange', label: 'readings are waiting' }],
        targets: [perInterval(M.spool, { depth: 'max("depth")' }, ', "node"').alias('$tag_node')],
      }),
      timeseries({
        title: 'Spool age',
        description: 'Age of the oldest reading in the spool, per node: how far behind InfluxDB is.',
        unit: 's',
        targets: [perInterval(M.spool, { 'oldest age': 'max("oldest_age_s")' }, ', "node"').alias('$tag_node')],
      }),
      timeseries({
        title: 'Write latency',
        description: 'InfluxDB write latency per interval: median and 99th percentile of the batches.',
        unit: 'ms',
        targets: [perInterval(M.writes, { p50: 'mean("latency_ms_p50")', p99: 'max("latency_ms_p99")' })],
      }),
      timeseries({
        title: 'Write batches and failures',
        description: 'Batches written to InfluxDB and failed write attempts per interval.',
        unit: 'none',
        targets: [perInterval(M.writes, { batches: 'sum("batches")', failures: 'sum("failures")' })],
      }),
      timeseries({
        title: 'Rollups behind',
        description:
          'Closed hours not rolled up yet and hours waiting for recomputation after late readings, per node; both stay near 0 once a catch-up is done (the lag is the age of the newest hourly rollup).',
        unit: 'none',
        steps: [{ value: 3, color: 'orange', label: 'more than the settle time and one pass behind' }],
        targets: [
          perInterval(
            M.rollup,
            {
              'hours behind': 'max("windows_behind")',
              'dirty hours': 'max("dirty")',
              'lag (h)': 'max("lag_s") / 3600',
            },
            ', "node"',
          ).alias('$tag_node $col'),
        ],
      }),
      timeseries({
        title: 'Broker clients',
        description: 'Connected MQTT clients per broker node.',
        unit: 'none',
        targets: [perInterval(M.broker, { clients: 'max("clients")' }, ', "node"').alias('$tag_node')],
      }),
      timeseries({
        title: 'Broker connects and denials',
        description:
          'Connects, failed authentications and ACL denials per interval: a spike of failures is an attack or a misconfigured fleet.',
        unit: 'none',
        targets: [
          perInterval(M.broker, {
            connects: 'sum("connects")',
            'auth failures': 'sum("auth_failures")',
            'ACL denials': 'sum("acl_denials")',
            'messages in': 'sum("messages_in")',
          }),
        ],
      }),
    ],
  });
