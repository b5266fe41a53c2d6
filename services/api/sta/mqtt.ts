import type { Catalogue } from '../../common/catalogue.ts';
import type { Logger } from '../../common/logger.ts';
import type { Reading } from '../../common/reading.ts';
import type { Service } from '../../common/service.ts';
import type { StaReadAccess, StaReader } from '../../common/sta-reader.ts';
import type { Device, DeviceType, Grant, Registry, RegistryEvent } from '../../registry/index.ts';
import type { LiveSource } from '../context.ts';
import { StaQueryError } from './expression.ts';
import {
  datastream,
  type Entity,
  featureOfInterest,
  historicalLocation,
  location,
  NAVIGATION,
  observation,
  point,
  type Stream,
  sensor,
  streamId,
  thing,
} from './model.ts';
import { type ParsedTopic, parseStaTopic, type StaTopic } from './mqtt-topics.ts';
import { entityJson } from './render.ts';
import { sharingGrant, visibleStreams } from './service.ts';

/** A granted subscription: the parsed topic and the device it names, if any. */
interface Subscription extends ParsedTopic {
  /** The device (and Datastream) the topic names: checked again whenever grants or that device change. */
  scope?: { device: string; quantity?: string };
}

interface DeviceInfo {
  device: Device;
  type: DeviceType;
}

/** Devices (with their types) kept for notifications; emptied when full (a city's fleet fits many times). */
const MAX_CACHED_DEVICES = 10_000;
/** Reading batches waiting for their notifications; more are dropped (logged) rather than held without bound. */
const MAX_PENDING_BATCHES = 1_000;
/** Devices of a new device's type read to tell whether its Sensor was visible before (beyond: announced again). */
const SENSOR_PEERS_READ = 1_000;
const ROUTE = 'mqtt /sta/v1.1';

/** The broker's reader convention (null platform-wide, undefined anonymous) as StaView's (undefined, null). */
const viewReader = (r: StaReader): string | null | undefined =>
  r.department === null ? undefined : r.department === undefined ? null : r.department;

/** The device a topic names (through a Thing, Location, HistoricalLocation, FeatureOfInterest or Datastream id). */
function scopeOf(t: StaTopic): Subscription['scope'] {
  const named =
    t.k === 'observations'
      ? t.stream !== undefined
        ? { type: 'Datastream', id: t.stream }
        : t.device !== undefined
          ? { type: 'Thing', id: t.device }
          : undefined
      : t.k === 'set'
        ? t.via
        : t;
  if (!named || named.type === 'Sensor' || named.type === 'ObservedProperty') return undefined;
  if (named.type !== 'Datastream') return { device: named.id };
  const cut = named.id.lastIndexOf(':');
  if (cut <= 0) throw new StaQueryError(`'${named.id}' is not a Datastream id (<thing>:<quantity>)`, 'topic');
  return { device: named.id.slice(0, cut), quantity: named.id.slice(cut + 1) };
}

/** The registry entities of one device a reader sees. */
/** The entities a visible device makes visible: its Thing and position, its Datastreams and its type's Sensor. */
function deviceEntities(d: Device, t: DeviceType, streams: Stream[]): Entity[] {
  const g = point(d);
  return [
    thing(d),
    ...(g ? [location(d, g), historicalLocation(d), featureOfInterest(d, g)] : []),
    ...streams.map(datastream),
    sensor(t),
  ];
}
const entityKey = (e: Entity) => `${e.type}/${e.id}`;

/**
 * The SensorThings MQTT read extension (OGC 18-088 §14.2, "Receiving updates with MQTT") on the platform's broker.
 * Readers subscribe to the read topics of the standard (mqtt-topics.ts): new Observations of every readable
 * Datastream, of one Datastream or FeatureOfInterest; entity sets, entities, properties and navigation collections
 * of the registry's entities, each with `?$select=`. Payloads are the entities' JSON as GET /sta/v1.1 renders them
 * (render.ts). What a reader receives follows the HTTP rule (visibleStreams, sharingGrant) against the current
 * grants: the registry's change events (relayed between nodes) refresh them, and a subscription naming something
 * the reader may no longer see ends its connection. Subscriptions through a grant to Observations are audited.
 */
export class StaMqttFeed implements Service, StaReadAccess {
  private readonly readers = new Map<StaReader, Map<string, Subscription>>();
  /** Subscriptions to Observations in all: readings are looked at only when there is one. */
  private observing = 0;
  /** Grants per reading principal ('' anonymous, else the department): dropped on every grant change. */
  private readonly grants = new Map<string, Promise<Grant[]>>();
  private readonly devices = new Map<string, Promise<DeviceInfo | undefined>>();
  /** Notifications run one after another, so a grant change is applied before the readings that follow it. */
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly base: string | undefined;
  /** When the first of the cached grants expires (epoch ms). */
  private nextExpiry = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly live: LiveSource,
    private readonly registry: Registry,
    private readonly catalogue: Catalogue,
    /** SUS_PUBLIC_API_URL: the base of `@iot.selfLink`s (absent: links are left out, there is no request to ask). */
    publicUrl: string | undefined,
    private readonly log: Logger,
  ) {
    this.base = publicUrl && `${publicUrl.replace(/\/+$/, '')}/sta/v1.1`;
  }

  /** Grants a subscription, or says why not (the broker answers SUBACK 0x80 and logs the reason with the topic). */
  async subscribe(reader: StaReader, topic: string): Promise<string | undefined> {
    let sub: Subscription;
    try {
      const parsed = parseStaTopic(topic);
      const scope = scopeOf(parsed.t);
      sub = scope ? { ...parsed, scope } : parsed;
    } catch (err) {
      if (err instanceof StaQueryError) return err.message;
      throw err;
    }
    const refusal = await this.refusal(reader, sub);
    if (refusal) return refusal;
    await this.audit(reader, sub, topic);
    // Released already (or the broker gave up waiting and refused): nothing would release it later.
    if (!reader.open) return 'the connection closed before the subscription was granted';
    const subs = this.readers.get(reader) ?? new Map<string, Subscription>();
    this.readers.set(reader, subs);
    const before = subs.get(topic);
    if (before?.t.k === 'observations') this.observing--;
    subs.set(topic, sub);
    if (sub.t.k === 'observations') this.observing++;
    return undefined;
  }

  unsubscribe(reader: StaReader, topic: string): void {
    const subs = this.readers.get(reader);
    const sub = subs?.get(topic);
    if (!subs || !sub) return;
    subs.delete(topic);
    if (sub.t.k === 'observations') this.observing--;
    if (subs.size === 0) this.readers.delete(reader);
  }

  /** The reader's connection ended. */
  released(reader: StaReader): void {
    for (const topic of [...(this.readers.get(reader)?.keys() ?? [])]) this.unsubscribe(reader, topic);
  }

  private grantsOf(reader: StaReader): Promise<Grant[]> {
    const d = reader.department;
    if (d === null) return Promise.resolve([]);
    const key = d ?? '';
    let p = this.grants.get(key);
    if (!p) {
      p = (d === undefined ? this.registry.grants.publicDatasets() : this.registry.grants.activeTo(d)).then((gs) => {
        // An expiry changes no row, so no change event tells of it: the tick watches for the first one.
        for (const g of gs) this.nextExpiry = Math.min(this.nextExpiry, Date.parse(g.expiresAt));
        return gs;
      });
      this.grants.set(key, p);
      // A failed read is not kept: the next notification asks again.
      p.catch(() => this.grants.get(key) === p && this.grants.delete(key));
    }
    return p;
  }

  private deviceInfo(id: string): Promise<DeviceInfo | undefined> {
    let p = this.devices.get(id);
    if (!p) {
      if (this.devices.size >= MAX_CACHED_DEVICES) this.devices.clear();
      // A decommissioned device sends nothing more: its topics are refused, and subscriptions naming it end.
      p = this.registry.getActiveDevice(id).then(async (device) => {
        const type = device && (await this.registry.deviceTypes.get(device.type));
        return device && type ? { device, type } : undefined;
      });
      this.devices.set(id, p);
      p.catch(() => this.devices.get(id) === p && this.devices.delete(id));
    }
    return p;
  }

  /** Why `reader` may not hold `sub` (undefined: it may), by the HTTP rule against the current grants. */
  private async refusal(reader: StaReader, sub: Subscription): Promise<string | undefined> {
    const { t, scope } = sub;
    const named = t.k === 'set' ? t.via : t.k === 'observations' ? undefined : t;
    if (named?.type === 'Sensor' && !(await this.registry.deviceTypes.get(named.id)))
      return `Sensor '${named.id}' does not exist`;
    if (named?.type === 'ObservedProperty' && this.catalogue.get(named.id)?.name !== named.id)
      return `ObservedProperty '${named.id}' does not exist`;
    if (!scope) return undefined;
    const info = await this.deviceInfo(scope.device);
    const streams =
      info && visibleStreams(this.catalogue, viewReader(reader), await this.grantsOf(reader), info.device, info.type);
    if (!streams) return `Thing '${scope.device}' does not exist or is not visible to this reader`;
    if (scope.quantity !== undefined && !streams.some((s) => s.quantity.name === scope.quantity))
      return `Datastream '${streamId(scope.device, scope.quantity)}' does not exist or is not visible to this reader`;
    return undefined;
  }

  /** A subscription to Observations through grants is a read of their owners' data: audited like GET …/Observations. */
  private async audit(reader: StaReader, sub: Subscription, topic: string): Promise<void> {
    if (sub.t.k !== 'observations' || reader.department === null) return;
    const grants = await this.grantsOf(reader);
    const used = new Map<string, Grant>();
    if (sub.scope) {
      const info = (await this.deviceInfo(sub.scope.device))!;
      if (info.device.department === reader.department) return;
      const quantities = sub.scope.quantity !== undefined ? [sub.scope.quantity] : info.type.quantities;
      for (const q of quantities) {
        const g = sharingGrant(grants, info.device, q);
        if (g) used.set(g.id, g);
      }
    } else for (const g of grants) if (g.owner !== reader.department) used.set(g.id, g);
    for (const g of used.values())
      await this.registry.audit.record({
        grantId: g.id,
        owner: g.owner,
        reader: reader.department ?? null,
        keyId: reader.keyId,
        route: ROUTE,
        query: { topic },
      });
  }

  /** Whether `reader` may read the Observation of Datastream d × q at `time` now. */
  private async mayRead(reader: StaReader, d: Device, q: string, time: number): Promise<boolean> {
    if (reader.department === null || reader.department === d.department) return true;
    const grants = await this.grantsOf(reader);
    const now = Date.now();
    // Between an expiry and the tick that notices it, the expired grant opens nothing.
    const live = now < this.nextExpiry ? grants : grants.filter((g) => Date.parse(g.expiresAt) > now);
    return sharingGrant(live, d, q, time) !== undefined;
  }

  private enqueue(job: () => Promise<void>, droppable: boolean): void {
    if (droppable && this.pending >= MAX_PENDING_BATCHES) {
      this.log.warn({ pending: this.pending }, 'SensorThings MQTT notifications behind; a batch of readings dropped');
      return;
    }
    this.pending++;
    this.tail = this.tail
      .then(job)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'SensorThings MQTT notification failed'))
      .finally(() => this.pending--);
  }

  private send(reader: StaReader, topic: string, body: unknown): void {
    reader.deliver(topic, Buffer.from(JSON.stringify(body)));
  }

  private readonly onReadings = (readings: Reading[]): void => {
    if (this.observing === 0) return;
    this.enqueue(() => this.notifyObservations(readings), true);
  };

  private async notifyObservations(readings: Reading[]): Promise<void> {
    for (const r of readings) {
      const info = await this.deviceInfo(r.device);
      const quantity = this.catalogue.get(r.quantity);
      if (!info || !quantity) continue;
      const s: Stream = { id: streamId(r.device, r.quantity), device: info.device, quantity, type: info.type };
      const e = observation(s, r.time, r.value, r.flags ?? null);
      // Rendered once per reading and $select (most readers have none), not once per reader.
      const rendered = new Map<ReadonlySet<string> | undefined, Buffer>();
      for (const [reader, subs] of this.readers) {
        let allowed: boolean | undefined;
        for (const [topic, sub] of subs) {
          const t = sub.t;
          if (t.k !== 'observations') continue;
          if (t.stream !== undefined ? t.stream !== s.id : t.device !== undefined && t.device !== r.device) continue;
          allowed ??= await this.mayRead(reader, info.device, r.quantity, r.time);
          if (!allowed) continue;
          let payload = rendered.get(sub.select);
          if (!payload) {
            payload = Buffer.from(JSON.stringify(entityJson(e, this.base, sub.select)));
            rendered.set(sub.select, payload);
          }
          reader.deliver(topic, payload);
        }
      }
    }
  }

  private readonly onChange = (e: RegistryEvent): void => {
    if (e.type === 'device-changed') {
      const before = this.devices.get(e.id);
      this.devices.delete(e.id);
      if (this.readers.size > 0) this.enqueue(() => this.deviceChanged(e.id, before), false);
    } else if (e.type === 'grant-changed') this.grantsChanged();
  };

  private grantsChanged(): void {
    // Dropped at once: every notification from now on reads the grants as they are after the change.
    this.grants.clear();
    this.nextExpiry = Number.POSITIVE_INFINITY;
    if (this.readers.size > 0) this.enqueue(() => this.recheck(), false);
  }

  /** Once a second: a cached grant that expired counts as a grant change. */
  private readonly tick = (): void => {
    if (Date.now() >= this.nextExpiry) this.grantsChanged();
  };

  /** Ends the readers whose subscriptions name what they may no longer see (`device`: only those naming it). */
  private async recheck(device?: string): Promise<void> {
    for (const [reader, subs] of [...this.readers]) {
      for (const [topic, sub] of subs) {
        if (!sub.scope || (device !== undefined && sub.scope.device !== device)) continue;
        const refusal = await this.refusal(reader, sub);
        if (!refusal) continue;
        this.log.info(
          { topic, reader: reader.department ?? 'public', reason: refusal },
          'SensorThings subscription ended',
        );
        this.released(reader);
        reader.end(`subscription to ${topic} no longer authorised: ${refusal}`);
        break;
      }
    }
  }

  /** A device was added or changed: the entities that changed go to the readers subscribed to them. */
  private async deviceChanged(id: string, before: Promise<DeviceInfo | undefined> | undefined): Promise<void> {
    await this.recheck(id);
    const now = await this.deviceInfo(id);
    if (!now) return;
    const old = await before?.catch(() => undefined);
    const oldProps = new Map<string, Record<string, unknown>>();
    if (old) {
      // A change of when the device was last seen is not a change of the entity.
      const d = { ...old.device, lastSeenAt: now.device.lastSeenAt };
      const all = visibleStreams(this.catalogue, undefined, [], d, old.type) ?? [];
      for (const x of deviceEntities(d, old.type, all)) oldProps.set(entityKey(x), x.props);
    }
    const changed = (x: Entity) => JSON.stringify(oldProps.get(entityKey(x))) !== JSON.stringify(x.props);
    // A new device's Sensor (its type) is new to a reader only if no other device of the type was visible to it,
    // as GET …/Sensors lists a type once a device of it is visible: the second device of a type is not a new Sensor.
    let peers: Promise<Device[]> | undefined;
    const sameType = () => (peers ??= this.registry.listDevices({ type: now.type.id, limit: SENSOR_PEERS_READ }));
    for (const [reader, subs] of this.readers) {
      const grants = await this.grantsOf(reader);
      const streams = visibleStreams(this.catalogue, viewReader(reader), grants, now.device, now.type);
      if (!streams) continue;
      const entities = deviceEntities(now.device, now.type, streams);
      const sensorKnown =
        !old &&
        [...subs.values()].some((sub) => sub.t.k !== 'observations' && sub.t.type === 'Sensor') &&
        (await sameType()).some(
          (d) => d.id !== id && visibleStreams(this.catalogue, viewReader(reader), grants, d, now.type) !== undefined,
        );
      for (const [topic, sub] of subs) {
        const t = sub.t;
        if (t.k === 'observations') continue;
        if (t.type === 'Sensor' && sensorKnown) continue;
        if (t.k === 'property') {
          const x = entities.find((y) => y.type === t.type && y.id === t.id);
          const was = oldProps.get(`${t.type}/${t.id}`);
          if (x && (!was || JSON.stringify(was[t.name]) !== JSON.stringify(x.props[t.name])))
            this.send(reader, topic, { [t.name]: x.props[t.name] ?? null });
          continue;
        }
        for (const x of entities) {
          if (x.type !== t.type || !changed(x)) continue;
          if (t.k === 'entity' ? x.id !== t.id : t.via && !related(t.via, x, entities)) continue;
          this.send(reader, topic, entityJson(x, this.base, sub.select));
        }
      }
    }
  }

  async start(): Promise<void> {
    this.live.on('readings', this.onReadings);
    this.registry.on('change', this.onChange);
    this.timer = setInterval(this.tick, 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.live.off('readings', this.onReadings);
    this.registry.off('change', this.onChange);
    clearInterval(this.timer);
    await this.tail;
  }
}

/** Whether `x` (an entity of one device) is a member of navigation `via` → x.type, among that device's `entities`. */
function related(via: { type: string; id: string }, x: Entity, entities: Entity[]): boolean {
  if (via.type === 'Sensor') return x.stream?.type.id === via.id;
  if (via.type === 'ObservedProperty') return x.stream?.quantity.name === via.id;
  const source = entities.find((y) => y.type === via.type && y.id === via.id);
  return !!source && Object.values(NAVIGATION[source.type]).some((n) => n.type === x.type);
}
