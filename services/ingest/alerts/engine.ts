import { EventEmitter } from 'node:events';
import type { InfluxSeries } from '../../common/influx.ts';
import {
  fieldSet,
  floatValue,
  intValue,
  type LineSink,
  pointLine,
  stringValue,
  tagSet,
} from '../../common/line-protocol.ts';
import type { Logger } from '../../common/logger.ts';
import type { Reading, ReadingTags } from '../../common/reading.ts';
import { type AlertNotice, deliveryTarget, noticeUnit, RATE_PERIODS, type Rule } from '../../common/rules.ts';
import {
  type Alert,
  type AlertState,
  type AlertTransition,
  DeviceTypeStore,
  type Grant,
  GrantStore,
  grantCovers,
  type Registry,
  type RegistryEvent,
  type TransitionResult,
} from '../../registry/index.ts';
import { type CompiledCondition, compileCondition } from './conditions.ts';
import { windowQueries, windowValues } from './window.ts';

/** One line saying what changed, e.g. `River high: firing on river-1 (water_level 1.7 m)`. */
export function alertText(n: AlertNotice): string {
  const what = n.rule.kind === 'silent' ? 'silent' : (n.quantity ?? n.rule.kind);
  const value = n.value === null ? '' : ` (${what} ${n.value}${n.unit === null ? '' : ` ${n.unit}`})`;
  return `${n.rule.name}: ${n.state} on ${n.device}${value}`;
}

/** Where readings come from: the Ingestor emits `readings` once they are in the spool. */
export interface ReadingSource {
  on(event: 'readings', listener: (readings: Reading[], tags: ReadingTags) => void): unknown;
  off(event: 'readings', listener: (readings: Reading[], tags: ReadingTags) => void): unknown;
}

export interface AlertEngineOptions {
  /** State changes waiting for the registry; beyond it further ones are dropped and counted (SUS_ALERT_QUEUE_MAX). */
  queueMax: number;
  /** Default k of silent-device rules (SUS_SILENT_FACTOR) and the interval of types that define none. */
  silentFactor: number;
  defaultIntervalS: number;
  /** Base of the alert links in notifications. */
  publicUrl: string;
  /** How often `for` durations and silent devices are checked. */
  tickMs?: number;
  /** How often the rules are compared with the registry's (rules changed by another process). */
  reloadMs?: number;
  /** How often window rules are evaluated (SUS_WINDOW_RULE_INTERVAL_S). */
  windowMs?: number;
  /**
   * Cluster mode: whether this node holds the elected duties. Silent-device rules are checked only there (each
   * silence notifies once), with last-seen times read from the registry every `sharedLastSeenMs` (every node writes
   * them), since the devices report to every node.
   */
  leading?: () => boolean;
  sharedLastSeenMs?: number;
}

export interface AlertEngineStats {
  transitions: number;
  /** State changes dropped because the queue to the registry was full. */
  dropped: number;
  /** Writes to the registry that failed (retried). */
  writeFailures: number;
}

interface Compiled extends CompiledCondition {
  rule: Rule;
  /** Rate rules: the period (ms) their thresholds are changes per; 0 for threshold rules. */
  periodMs: number;
  /** This rule's pending and firing alerts by device (kept across recompilations). */
  alerts: Map<string, ActiveAlert>;
}

interface ActiveAlert {
  rule: string;
  device: string;
  state: 'pending' | 'firing';
  since: number;
  value: number | null;
  /** The latest value crossed the threshold (a pending alert fires once `for` has passed while this holds). */
  breaching: boolean;
}

interface Queued {
  rule: Rule;
  device: string;
  state: AlertState;
  value: number | null;
  at: number;
}

/** The rules that watch one device's quantity, and its previous reading (what a rate is taken against). */
interface Matched {
  readonly levels: readonly Compiled[];
  readonly rates: readonly Compiled[];
  prevTime: number;
  prevValue: number;
}

/** State changes written in one registry transaction at most: bounds a transaction's length and its retry. */
const WRITE_BATCH = 256;

// Shared by every device × quantity no rule watches: never written, as it has no rate rules.
const NONE: Matched = Object.freeze({ levels: [], rates: [], prevTime: 0, prevValue: 0 });

/**
 * Evaluates threshold and silent-device rules in the ingest stream. The Ingestor calls in after the spool took the
 * readings (off the acknowledgement's critical section: the work there is a lookup of the rules compiled for the
 * device's tags and quantity plus a comparison); state changes go through a bounded queue to the registry (state,
 * history and deliveries in one transaction), then to the stream (`alert` events), InfluxDB (`sus_alert`, through
 * the spool) and the webhook notifier. Its state survives a restart: active alerts are loaded back from the registry.
 */
export class AlertEngine extends EventEmitter<{ alert: [AlertNotice] }> {
  readonly stats: AlertEngineStats = { transitions: 0, dropped: 0, writeFailures: 0 };
  /** Threshold and rate rules: evaluated per reading. */
  private thresholdRules: Compiled[] = [];
  /**
   * The same rules by quantity and department (built once per reload): a device's first reading of a quantity is
   * matched against the few rules that can apply, not all of them (a reload drops every device's match at once).
   */
  private byQuantity = new Map<string, Map<string, Compiled[]>>();
  /** Window rules: evaluated on a timer from the rollups (window.ts). */
  private windowRules: Compiled[] = [];
  private windowTimer: NodeJS.Timeout | undefined;
  private windowPass: Promise<void> | undefined;
  /** Rules per device tags and quantity: built on a device's first reading, dropped with the tags (or a reload). */
  private byTags = new WeakMap<ReadingTags, Map<string, Matched>>();
  private grants = new Map<string, Grant>();
  /** Silent-device rules by device, with the silence (ms) after which each fires. */
  private watched = new Map<string, Array<{ rule: Rule; afterMs: number }>>();
  private readonly lastSeen = new Map<string, number>();
  /** Watched devices whose presence says offline: silent at once, not only after k intervals. */
  private readonly offline = new Set<string>();
  /** Pending and firing alerts, by rule and device: what the registry holds, for the per-message path. */
  private readonly active = new Map<string, Map<string, ActiveAlert>>();
  private readonly queue: Queued[] = [];
  private writing = false;
  private version = '';
  private tickTimer: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private stopped = true;
  private readonly drained = new Set<() => void>();

  constructor(
    private readonly deps: {
      registry: Registry;
      source: ReadingSource;
      sink: LineSink;
      notifier: { nudge(): void };
      /** InfluxQL reads of window rules; without it window rules are not evaluated (logged once at start). */
      influx?: { query(q: string): Promise<InfluxSeries[][]> };
      log: Logger;
      options: AlertEngineOptions;
    },
  ) {
    super();
  }

  async start(): Promise<void> {
    this.stopped = false;
    for (const a of await this.deps.registry.alerts.active()) this.restore(a);
    await this.reload();
    this.deps.source.on('readings', this.onReadings);
    this.deps.registry.on('change', this.onRegistryChange);
    const tickMs = this.deps.options.tickMs ?? 1000;
    this.tickTimer = setInterval(() => this.tick(Date.now()), tickMs);
    this.tickTimer.unref();
    this.reloadTimer = setInterval(() => void this.reloadIfChanged(), this.deps.options.reloadMs ?? 10_000);
    this.reloadTimer.unref();
    this.windowTimer = setInterval(() => this.windows(), this.deps.options.windowMs ?? 60_000);
    this.windowTimer.unref();
  }

  /** One pass over the window rules (not overlapping the previous one); resolves when it is done. */
  windows(now = Date.now()): Promise<void> {
    this.windowPass ??= this.evaluateWindows(now)
      .catch((err: Error) => this.deps.log.warn({ err: err.message }, 'window rules not evaluated; tried again later'))
      .finally(() => {
        this.windowPass = undefined;
      });
    return this.windowPass;
  }

  private async evaluateWindows(now: number): Promise<void> {
    const rules = this.windowRules;
    const influx = this.deps.influx;
    if (rules.length === 0 || !influx) return;
    // In a cluster every node sees the same rollups: one node (the lease holder) evaluates, so each notifies once.
    const leading = this.deps.options.leading;
    if (leading && !leading()) return;
    const rollupsUntil = (await this.deps.registry.rollups.progress())['1h']?.doneUntil ?? 0;
    for (const c of rules) {
      if (this.stopped) return;
      if (c.rule.grantId !== null && !this.grants.has(c.rule.grantId)) continue;
      const values = windowValues(
        await influx.query(windowQueries(c.rule, now, rollupsUntil)),
        c.rule.window!.aggregate,
      );
      for (const [device, value] of values) this.evaluate(c, device, value, now);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.source.off('readings', this.onReadings);
    this.deps.registry.off('change', this.onRegistryChange);
    clearInterval(this.tickTimer);
    clearInterval(this.reloadTimer);
    clearInterval(this.windowTimer);
    await this.reloading;
    await this.windowPass;
    await this.idle();
  }

  /** Resolves once every queued state change is written (tests, shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.writing) return Promise.resolve();
    return new Promise((resolve) => this.drained.add(resolve));
  }

  /**
   * The broker's presence of a device changed. Offline makes a watched device silent at the next tick; online only
   * ends that (a device that connects but sends nothing is still silent after k intervals).
   */
  presence(device: string, online: boolean): void {
    if (online) this.offline.delete(device);
    else if (this.watched.has(device)) this.offline.add(device);
  }

  /** A dead delivery was queued again through the API: the notifier sends it now. */
  deliveriesQueued(): void {
    this.deps.notifier.nudge();
  }

  private readonly onRegistryChange = (e: RegistryEvent) => {
    // Rules, devices and grants decide what is watched; a key revocation does not.
    if (e.type !== 'key-revoked') void this.reload();
  };

  private restore(a: Alert): void {
    if (a.state === 'resolved') return;
    this.alertsOf(a.rule).set(a.device, {
      rule: a.rule,
      device: a.device,
      state: a.state,
      since: Date.parse(a.since),
      value: a.value,
      breaching: true,
    });
  }

  // ---- the per-message path ---------------------------------------------------------------------------------

  private readonly onReadings = (readings: Reading[], tags: ReadingTags) => {
    const now = Date.now();
    if (this.watched.has(tags.device)) {
      this.lastSeen.set(tags.device, now);
      this.offline.delete(tags.device); // a reading (HTTP push, say) is a sign of life too
    }
    if (this.thresholdRules.length === 0) return;
    let perQuantity = this.byTags.get(tags);
    if (!perQuantity) {
      perQuantity = new Map();
      this.byTags.set(tags, perQuantity);
    }
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      let m = perQuantity.get(r.quantity);
      if (m === undefined) {
        m = this.match(tags, r.quantity);
        perQuantity.set(r.quantity, m);
      }
      const levels = m.levels;
      for (let j = 0; j < levels.length; j++) {
        const c = levels[j]!;
        // The common case inline (a rule with nothing active, a value inside it): no call into evaluate.
        if (c.alerts.size === 0 && !c.breach(r.value)) continue;
        this.evaluate(c, r.device, r.value, now);
      }
      if (m.rates.length > 0) this.evaluateRates(m, r, now);
    }
  };

  /**
   * Rate rules compare the change since the device's previous reading of the quantity (by reading time, so a
   * backlog arriving at once keeps its spacing); a reading not later than the previous one is skipped.
   */
  private evaluateRates(m: Matched, r: Reading, now: number): void {
    const dt = r.time - m.prevTime;
    const first = m.prevTime === 0;
    if (dt <= 0 && !first) return;
    const perMs = (r.value - m.prevValue) / dt;
    m.prevTime = r.time;
    m.prevValue = r.value;
    if (first) return;
    for (let j = 0; j < m.rates.length; j++) {
      const c = m.rates[j]!;
      this.evaluate(c, r.device, perMs * c.periodMs, now);
    }
  }

  /** The threshold and rate rules that watch this device's quantity (computed once per device tags and quantity). */
  private match(tags: ReadingTags, quantity: string): Matched {
    const district = tags.district === '' ? null : tags.district;
    const candidates = this.byQuantity.get(quantity)?.get(tags.department) ?? [];
    const out = candidates.filter((c) => {
      const s = c.rule.scope;
      if ((s.device !== null && s.device !== tags.device) || (s.type !== null && s.type !== tags.device_type))
        return false;
      if (s.district !== null && s.district !== district) return false;
      return this.shared(c.rule, tags.device_type, district);
    });
    if (out.length === 0) return NONE;
    return {
      levels: out.filter((c) => c.periodMs === 0),
      rates: out.filter((c) => c.periodMs > 0),
      prevTime: 0,
      prevValue: 0,
    };
  }

  /** Own data, or another department's that the rule's grant still covers (the one grantCovers rule). */
  private shared(rule: Rule, deviceType: string, district: string | null, grants = this.grants): boolean {
    if (rule.grantId === null) return true;
    const grant = grants.get(rule.grantId);
    const slice = { quantities: rule.quantity === null ? undefined : [rule.quantity], deviceType, district, raw: true };
    return grant !== undefined && grantCovers(grant, slice);
  }

  private alertsOf(rule: string): Map<string, ActiveAlert> {
    let alerts = this.active.get(rule);
    if (!alerts) {
      alerts = new Map();
      this.active.set(rule, alerts);
    }
    return alerts;
  }

  private evaluate(c: Compiled, device: string, value: number, now: number): void {
    const breaching = c.breach(value);
    const alerts = c.alerts;
    // The common case, a value inside the threshold of a rule with nothing active: one comparison, no lookup.
    if (!breaching && alerts.size === 0) return;
    const cur = alerts.get(device);
    if (!cur) {
      if (!breaching) return;
      const state = c.rule.forS === 0 ? 'firing' : 'pending';
      alerts.set(device, { rule: c.rule.id, device, state, since: now, value, breaching });
      this.change(c.rule, device, state, value, now);
      return;
    }
    cur.value = value;
    cur.breaching = breaching;
    if (cur.state === 'pending') {
      // `for` asks for the condition to hold throughout: one value back inside ends the wait.
      if (!breaching) {
        alerts.delete(device);
        this.change(c.rule, device, 'resolved', value, now);
      } else if (now - cur.since >= c.rule.forS * 1000) {
        cur.state = 'firing';
        this.change(c.rule, device, 'firing', value, now);
      }
    } else if (c.clear(value)) {
      alerts.delete(device);
      this.change(c.rule, device, 'resolved', value, now);
    }
  }

  // ---- timers: `for` durations and silent devices -------------------------------------------------------------

  private lastSeenRead = 0;
  private readingLastSeen = false;

  /** Cluster mode: the registry's last-seen times of the watched devices (written by every node), merged in. */
  private refreshLastSeen(now: number): void {
    const every = this.deps.options.sharedLastSeenMs;
    if (every === undefined || this.readingLastSeen || now - this.lastSeenRead < every) return;
    this.readingLastSeen = true;
    this.lastSeenRead = now;
    this.deps.registry
      .lastSeenOf([...this.watched.keys()])
      .then(
        (seen) => {
          for (const [device, at] of seen) if (at > (this.lastSeen.get(device) ?? 0)) this.lastSeen.set(device, at);
        },
        (err: Error) => this.deps.log.warn({ err: err.message }, 'could not read last-seen times; read again later'),
      )
      .finally(() => {
        this.readingLastSeen = false;
      });
  }

  private tick(now: number): void {
    for (const c of this.thresholdRules) {
      if (c.rule.forS === 0) continue;
      for (const a of c.alerts.values()) {
        if (a.state !== 'pending' || !a.breaching || now - a.since < c.rule.forS * 1000) continue;
        a.state = 'firing';
        this.change(c.rule, a.device, 'firing', a.value, now);
      }
    }
    const leading = this.deps.options.leading;
    if (leading && !leading()) return;
    this.refreshLastSeen(now);
    for (const [device, rules] of this.watched) {
      const silentMs = now - (this.lastSeen.get(device) ?? now);
      for (const { rule, afterMs } of rules) {
        const alerts = this.alertsOf(rule.id);
        const cur = alerts.get(device);
        const silentS = Math.floor(silentMs / 1000);
        const offline = this.offline.has(device);
        if (!cur && (silentMs > afterMs || offline)) {
          alerts.set(device, { rule: rule.id, device, state: 'firing', since: now, value: silentS, breaching: true });
          this.change(rule, device, 'firing', silentS, now);
        } else if (cur && silentMs <= afterMs && !offline) {
          alerts.delete(device);
          this.change(rule, device, 'resolved', silentS, now);
        }
      }
    }
  }

  // ---- state changes: queue → registry → stream, InfluxDB, notifier -----------------------------------------

  private change(rule: Rule, device: string, state: AlertState, value: number | null, at: number): void {
    if (this.queue.length >= this.deps.options.queueMax) {
      this.stats.dropped++;
      this.deps.log.error({ rule: rule.id, device, state }, 'alert queue full: state change dropped');
      return;
    }
    this.queue.push({ rule, device, state, value, at });
    if (!this.writing) {
      this.writing = true;
      // Written in a later turn: the caller is ingest's path to the acknowledgement.
      setImmediate(() => void this.write());
    }
  }

  private async write(): Promise<void> {
    while (this.queue.length > 0) {
      // Every change queued meanwhile (one ingest batch's, a tick's) in one registry transaction: one commit each.
      const batch = this.queue.slice(0, WRITE_BATCH);
      let results: TransitionResult[];
      try {
        results = await this.deps.registry.alerts.transitions(batch.map((q) => this.transition(q)));
      } catch (err) {
        // Rule deleted meanwhile (its alerts went with it): the batch again one by one, its changes left out.
        if ((err as { code?: string }).code === '23503') {
          let written = true;
          for (const q of batch) {
            written = await this.writeOne(q);
            if (!written) break;
          }
          if (!written) break;
          continue;
        }
        if (!(await this.writeFailed(err as Error))) break;
        continue;
      }
      this.queue.splice(0, batch.length);
      await this.published(batch, results);
    }
    this.writing = false;
    for (const done of this.drained) done();
    this.drained.clear();
  }

  /** The first queued change alone, until written or dropped with its deleted rule; false when stopping. */
  private async writeOne(q: Queued): Promise<boolean> {
    for (;;) {
      try {
        const result = await this.deps.registry.alerts.transition(this.transition(q));
        this.queue.shift();
        await this.published([q], [result]);
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === '23503') {
          this.queue.shift();
          return true;
        }
        if (!(await this.writeFailed(err as Error))) return false;
      }
    }
  }

  /** The registry is away: keep the order and try again in 1 s; false when stopping. */
  private async writeFailed(err: Error): Promise<boolean> {
    this.stats.writeFailures++;
    this.deps.log.warn({ err: err.message }, 'alert state not written; retried in 1 s');
    if (this.stopped) return false;
    await new Promise((r) => setTimeout(r, 1000));
    return true;
  }

  private transition(q: Queued): AlertTransition {
    return {
      rule: q.rule.id,
      device: q.device,
      department: q.rule.owner,
      state: q.state,
      value: q.value,
      at: new Date(q.at),
      notify: q.rule.notify.map(deliveryTarget),
      groupWaitMs: q.rule.groupS * 1000,
      body: (a) => JSON.stringify(this.notice(q, a)),
    };
  }

  /** Once committed: the stream, one nudge to the notifier and the batch's sus_alert points in one append. */
  private async published(batch: readonly Queued[], results: readonly TransitionResult[]): Promise<void> {
    const lines: string[] = [];
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      const { alert, changed } = results[i]!;
      // Another node reported this event first: the stream and InfluxDB heard of it from there.
      if (!changed) continue;
      this.stats.transitions++;
      const n = this.notice(q, alert);
      this.emit('alert', n);
      lines.push(this.line(n, q.at));
    }
    if (lines.length === 0) return;
    this.deps.notifier.nudge();
    await this.deps.sink.append(lines).catch((err: Error) => {
      this.deps.log.warn({ err: err.message, points: lines.length }, 'sus_alert points not spooled');
    });
  }

  private notice(q: Queued, a: Alert): AlertNotice {
    const r = q.rule;
    return {
      alert: a.id,
      rule: { id: r.id, name: r.name, kind: r.kind, severity: r.severity },
      state: q.state,
      department: r.owner,
      device: q.device,
      quantity: r.quantity,
      value: q.value,
      unit: noticeUnit(r),
      threshold: r.condition,
      hysteresis: r.hysteresis,
      time: new Date(q.at).toISOString(),
      link: `${this.deps.options.publicUrl}/v1/alerts/${a.id}`,
      description: r.description,
      runbook: r.runbook,
    };
  }

  /** `sus_alert` for Grafana's annotations (its `text` is what they show), built by the one line-protocol builder. */
  private line(n: AlertNotice, at: number): string {
    const tags = tagSet({ department: n.department, device: n.device, rule: n.rule.id, severity: n.rule.severity });
    const fields: Record<string, string> = {
      state: stringValue(n.state),
      alert: intValue(n.alert),
      text: stringValue(alertText(n)),
    };
    if (n.value !== null && Number.isFinite(n.value)) fields.value = floatValue(n.value);
    return pointLine('sus_alert', tags, fieldSet(fields), at);
  }

  // ---- compiling the rules ------------------------------------------------------------------------------------

  private async reloadIfChanged(): Promise<void> {
    try {
      if ((await this.deps.registry.rules.version()) !== this.version) await this.reload();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'could not check the alert rules; checked again later');
    }
  }

  /** Compiles the rules anew (coalesced: changes during a reload cause one more). */
  private reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          await this.compile();
        } catch (err) {
          this.deps.log.warn({ err: (err as Error).message }, 'could not load the alert rules; retried later');
          this.version = '';
        }
      } while (this.reloadAgain && !this.stopped);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async compile(): Promise<void> {
    const { registry, options } = this.deps;
    const version = await registry.rules.version();
    const rules = (await registry.rules.list()).filter((r) => r.enabled);
    const grantStore = new GrantStore(registry.db);
    const grants = new Map<string, Grant>();
    const now = Date.now();
    for (const id of new Set(rules.flatMap((r) => (r.grantId === null ? [] : [r.grantId])))) {
      const g = await grantStore.get(id);
      if (g && g.revokedAt === null && Date.parse(g.expiresAt) > now) grants.set(id, g);
    }
    const compiled = new Map<string, Compiled>();
    const threshold: Compiled[] = [];
    const windowed: Compiled[] = [];
    const never = { breach: () => false, clear: () => true };
    for (const rule of rules) {
      const c = {
        rule,
        periodMs: rule.per === null ? 0 : RATE_PERIODS[rule.per],
        alerts: this.alertsOf(rule.id),
        ...(rule.condition ? compileCondition(rule.condition, rule.hysteresis) : never),
      };
      compiled.set(rule.id, c);
      if (rule.kind === 'threshold' || rule.kind === 'rate') threshold.push(c);
      else if (rule.kind === 'window') windowed.push(c);
    }
    const watched = new Map<string, Array<{ rule: Rule; afterMs: number }>>();
    const silent = rules.filter((r) => r.kind === 'silent');
    if (silent.length > 0) {
      const intervals = await new DeviceTypeStore(registry.db).intervals();
      const departments = new Set(silent.map((r) => r.scope.department));
      for (const department of departments) {
        const devices = await registry.listDevices({ department });
        const gone = await registry.decommissionedAt(devices.map((d) => d.id));
        for (const d of devices) {
          if (gone.has(d.id)) continue;
          for (const rule of silent) {
            const s = rule.scope;
            if (s.department !== department || (s.device !== null && s.device !== d.id)) continue;
            if ((s.type !== null && s.type !== d.type) || (s.district !== null && s.district !== d.district)) continue;
            if (!this.shared(rule, d.type, d.district, grants)) continue;
            const intervalS = intervals.get(d.type) ?? options.defaultIntervalS;
            const afterMs = ((rule.silentFactor ?? options.silentFactor) * intervalS + rule.forS) * 1000;
            let list = watched.get(d.id);
            if (!list) {
              list = [];
              watched.set(d.id, list);
            }
            list.push({ rule, afterMs });
            // Where the registry knows a later report than this process saw, it counts; never reported: since now.
            const seen = d.lastSeenAt ? Date.parse(d.lastSeenAt) : (this.lastSeen.get(d.id) ?? now);
            if (seen > (this.lastSeen.get(d.id) ?? 0)) this.lastSeen.set(d.id, seen);
          }
        }
      }
    }
    for (const id of this.lastSeen.keys()) if (!watched.has(id)) this.lastSeen.delete(id);
    for (const id of this.offline) if (!watched.has(id)) this.offline.delete(id);
    // Alerts of rules that are gone or disabled are no longer evaluated (a deleted rule's rows went with it).
    for (const id of this.active.keys()) if (!compiled.has(id)) this.active.delete(id);
    this.grants = grants;
    this.thresholdRules = threshold;
    this.byQuantity = indexByQuantity(threshold);
    this.windowRules = windowed;
    this.byTags = new WeakMap();
    this.watched = watched;
    this.version = version;
  }
}

/** Threshold and rate rules by quantity, then by the department their scope is in. */
function indexByQuantity(rules: readonly Compiled[]): Map<string, Map<string, Compiled[]>> {
  const index = new Map<string, Map<string, Compiled[]>>();
  for (const c of rules) {
    if (c.rule.quantity === null) continue;
    let byDepartment = index.get(c.rule.quantity);
    if (!byDepartment) {
      byDepartment = new Map();
      index.set(c.rule.quantity, byDepartment);
    }
    const list = byDepartment.get(c.rule.scope.department);
    if (list) list.push(c);
    else byDepartment.set(c.rule.scope.department, [c]);
  }
  return index;
}
