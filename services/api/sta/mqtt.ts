import type { Catalogue } from '../../common/catalogue.ts';
import type { Logger } from '../../common/logger.ts';
import type { Reading, ReadingTags } from '../../common/reading.ts';
import type { Service } from '../../common/service.ts';
import type { Registry } from '../../registry/index.ts';
import type { LiveSource } from '../context.ts';
import { sharingGrant } from './service.ts';

/**
 * The SensorThings MQTT read extension (OGC 18-088 §14.2, "Receiving updates with MQTT"): a reader subscribes to
 * the resource path of a Datastream's Observations, `v1.1/Datastreams('<device>:<quantity>')/Observations`, or the
 * same through its Thing, `v1.1/Things('<device>')/Datastreams('<device>:<quantity>')/Observations`, and receives
 * every new Observation as the entity's JSON. Readers are read-only; what they may subscribe to is decided by the
 * same grant rule as the HTTP side (sharingGrant); a subscription through a grant is written to the owner's audit log.
 */
const KEY = "'((?:[^']|'')+)'";
const TOPIC = new RegExp(`^v1\\.1/(?:Things\\(${KEY}\\)/)?Datastreams\\(${KEY}\\)/Observations$`);

/** The device and quantity a topic names, or undefined for a topic this service does not serve. */
export function parseStaTopic(topic: string): { device: string; quantity: string } | undefined {
  const m = TOPIC.exec(topic);
  if (!m) return undefined;
  const stream = m[2]!.replace(/''/g, "'");
  const cut = stream.lastIndexOf(':');
  if (cut <= 0) return undefined;
  const device = stream.slice(0, cut);
  if (m[1] !== undefined && m[1].replace(/''/g, "'") !== device) return undefined;
  return { device, quantity: stream.slice(cut + 1) };
}

const quoteKey = (id: string) => `'${id.replace(/'/g, "''")}'`;
export const datastreamTopic = (device: string, quantity: string) =>
  `v1.1/Datastreams(${quoteKey(`${device}:${quantity}`)})/Observations`;
export const thingDatastreamTopic = (device: string, quantity: string) =>
  `v1.1/Things(${quoteKey(device)})/Datastreams(${quoteKey(`${device}:${quantity}`)})/Observations`;

/** Whether `department` (null: a platform-wide key; undefined: anonymous) may receive a topic's Observations. */
export function staReadAccess(registry: Registry, catalogue: Catalogue) {
  return {
    async maySubscribe(department: string | null | undefined, topic: string, keyId: string | null): Promise<boolean> {
      const t = parseStaTopic(topic);
      if (!t || catalogue.get(t.quantity)?.name !== t.quantity) return false;
      const d = await registry.getDevice(t.device);
      const type = d && (await registry.deviceTypes.get(d.type));
      if (!d || !type?.quantities.includes(t.quantity)) return false;
      if (department === null || department === d.department) return true;
      const grants =
        department === undefined ? await registry.grants.publicDatasets() : await registry.grants.activeTo(department);
      const grant = sharingGrant(grants, d, t.quantity);
      if (!grant) return false;
      // A subscription through a grant is a read of the owner's data: audited like GET …/Observations.
      await registry.audit.record({
        grantId: grant.id,
        owner: d.department,
        reader: department ?? null,
        keyId,
        route: 'mqtt /sta/v1.1',
        query: { topic },
      });
      return true;
    },
  };
}

/** What the feed publishes through: the platform's broker. */
export interface StaPublisher {
  staSubscribed(topic: string): boolean;
  publishSta(topic: string, payload: Buffer): Promise<void>;
}

/**
 * Publishes each reading ingest accepts as an Observation to the readers of its Datastream's topics. Rendered only
 * for topics someone subscribes to, so a fleet without readers costs two map lookups per reading.
 */
export class StaMqttFeed implements Service {
  constructor(
    private readonly live: LiveSource,
    private readonly broker: StaPublisher,
    /** SUS_PUBLIC_API_URL: the base of `@iot.selfLink`s (absent: links are left out, there is no request to ask). */
    private readonly publicUrl: string | undefined,
    private readonly log: Logger,
  ) {}

  private readonly onReadings = (readings: Reading[], _tags: ReadingTags): void => {
    for (const r of readings) {
      for (const topic of [datastreamTopic(r.device, r.quantity), thingDatastreamTopic(r.device, r.quantity)]) {
        if (!this.broker.staSubscribed(topic)) continue;
        const payload = Buffer.from(JSON.stringify(this.observation(r)));
        this.broker.publishSta(topic, payload).catch((err: Error) => {
          this.log.warn({ topic, err: err.message }, 'SensorThings notification not published');
        });
      }
    }
  };

  /** The Observation as GET /sta/v1.1/Observations('…') answers it (flags are set later, in the store). */
  private observation(r: Reading): Record<string, unknown> {
    const id = `${r.device}:${r.quantity}:${r.time}`;
    const t = new Date(r.time).toISOString();
    const base = this.publicUrl && `${this.publicUrl.replace(/\/+$/, '')}/sta/v1.1`;
    const self = base && `${base}/Observations(${quoteKey(id)})`;
    return {
      '@iot.id': id,
      ...(self ? { '@iot.selfLink': self } : {}),
      phenomenonTime: t,
      resultTime: t,
      result: r.value,
      resultQuality: null,
      ...(self
        ? {
            'Datastream@iot.navigationLink': `${self}/Datastream`,
            'FeatureOfInterest@iot.navigationLink': `${self}/FeatureOfInterest`,
          }
        : {}),
    };
  }

  async start(): Promise<void> {
    this.live.on('readings', this.onReadings);
  }

  async stop(): Promise<void> {
    this.live.off('readings', this.onReadings);
  }
}
