/**
 * Measurements the platform writes about itself into InfluxDB, next to the readings, so Grafana can chart the
 * fleet and the pipeline with the same data source. Contract between ingest/broker (writers) and dashboards (readers).
 */
export const SELF_METRICS = {
  /**
   * Device presence events, written by the broker (through ingest's spool when they share a process). Tags: device,
   * department, district, device_type. Field: online (1 online, 0 offline).
   */
  deviceStatus: 'device_status',
  /**
   * Ingest counters per interval (every SUS_SELF_METRICS_INTERVAL_S, default 10 s, by each ingest node). Tag: node.
   * Fields: messages, readings, dead_letters, dead_letters_suppressed (rejects beyond a device's dead-letter rate,
   * counted in summary entries), time_adjusted (integers, counts within the interval).
   */
  ingest: 'sus_ingest',
  /** Rejects per reason within the interval. Tags: node, reason. Field: count. */
  ingestRejects: 'sus_ingest_rejects',
  /** Durable spool. Tag: node. Fields: depth (lines waiting), bytes, oldest_age_s. */
  spool: 'sus_spool',
  /**
   * InfluxDB writes within the interval. Tag: node. Fields: written, batches, failures, refused (lines InfluxDB
   * refused, dead-lettered), latency_ms_p50, latency_ms_p99.
   */
  writes: 'sus_writes',
  /** Broker within the interval. Tag: node. Fields: clients, connects, auth_failures, acl_denials, messages_in. */
  broker: 'sus_broker',
  /**
   * Rollup service, every interval. Tag: node. Fields: windows_behind (closed hours not rolled up yet), lag_s (age
   * of the newest hourly rollup's end), dirty (hours waiting for recomputation), points (rollup points written
   * within the interval), points_per_s.
   */
  rollup: 'sus_rollup',
} as const;
