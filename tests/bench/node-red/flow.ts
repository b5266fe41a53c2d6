/**
 * The Node-RED peer of bench:ingest: MQTT in (QoS 1, parsed JSON) → function (reading message → InfluxDB points,
 * buffered into batches of the same size and linger as SUS_WRITE_BATCH_SIZE / SUS_WRITE_FLUSH_MS) → InfluxDB batch
 * out (node-red-contrib-influxdb, 1.x API). It subscribes to the same broker as a service account.
 */
export interface NodeRedFlowOptions {
  mqttPort: number;
  mqttUser: string;
  mqttPassword: string;
  influxHost: string;
  influxPort: number;
  influxDb: string;
  batchSize: number;
  lingerMs: number;
}

// Runs inside Node-RED's function node (a sandbox with `context`, `setTimeout`, `node`), hence plain JS in a string.
const toPoints = (batchSize: number, lingerMs: number) => `
const m = msg.payload;
const device = msg.topic.split('/')[3];
const time = new Date(typeof m.time === 'number' ? m.time : Date.now());
let buf = context.get('buf') || [];
for (const [quantity, value] of Object.entries(m.values || {})) {
  buf.push({ measurement: quantity, tags: { device, source: 'node-red' }, fields: { value: Number(value) }, timestamp: time });
}
const flush = () => {
  const points = context.get('buf') || [];
  context.set('buf', []);
  const t = context.get('timer'); if (t) clearTimeout(t); context.set('timer', null);
  if (points.length > 0) node.send({ payload: points });
};
context.set('buf', buf);
if (buf.length >= ${batchSize}) flush();
else if (!context.get('timer')) context.set('timer', setTimeout(flush, ${lingerMs}));
return null;
`;

export function nodeRedFlow(o: NodeRedFlowOptions): { flows: unknown[]; credentials: Record<string, unknown> } {
  return {
    flows: [
      { id: 'bench', type: 'tab', label: 'bench:ingest' },
      {
        id: 'broker',
        type: 'mqtt-broker',
        name: 'sus',
        broker: '127.0.0.1',
        port: String(o.mqttPort),
        clientid: '@svc/node-red-bench',
        autoConnect: true,
        usetls: false,
        protocolVersion: '4',
        keepalive: '60',
        cleansession: true,
      },
      {
        id: 'in',
        type: 'mqtt in',
        z: 'bench',
        topic: 'sus/v1/devices/+/up',
        qos: '1',
        datatype: 'json',
        broker: 'broker',
        nl: false,
        rap: false,
        inputs: 0,
        wires: [['fn']],
      },
      {
        id: 'fn',
        type: 'function',
        z: 'bench',
        name: 'to points',
        func: toPoints(o.batchSize, o.lingerMs),
        outputs: 1,
        wires: [['out']],
      },
      {
        id: 'influx',
        type: 'influxdb',
        hostname: o.influxHost,
        port: String(o.influxPort),
        protocol: 'http',
        database: o.influxDb,
        name: 'bench',
        usetls: false,
        influxdbVersion: '1.x',
      },
      {
        id: 'out',
        type: 'influxdb batch',
        z: 'bench',
        influxdb: 'influx',
        precision: 'ms',
        retentionPolicy: '',
        wires: [],
      },
    ],
    credentials: {
      broker: { user: o.mqttUser, password: o.mqttPassword },
      influx: { username: '', password: '' },
    },
  };
}

export const nodeRedSettings = (port: number) => `module.exports = {
  flowFile: 'flows.json',
  credentialSecret: false,
  uiHost: '127.0.0.1',
  uiPort: ${port},
  httpAdminRoot: false,
  httpNodeRoot: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  functionExternalModules: false,
};
`;
