import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/**
 * The deployment files: the multi-node Compose file and its HAProxy configuration (checked by Debian's haproxy
 * itself), and the Kubernetes manifests (validated against the Kubernetes API schemas that kubernetes-models
 * carries, offline), plus the wiring between their parts that no schema sees.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const COMPOSE = path.join(ROOT, 'infra/compose');
const K8S = path.join(ROOT, 'infra/k8s');
const read = (file: string) => readFileSync(file, 'utf8');

interface ComposeService {
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, unknown>;
}
const compose = parse(read(path.join(COMPOSE, 'docker-compose.cluster.yml')), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const haproxyCfg = path.join(COMPOSE, 'cluster/haproxy.cfg');

/** HAProxy sections (`frontend mqtt`, `backend api-nodes`, …) and their lines. */
function haproxySections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (!line.trim()) continue;
    if (!/^\s/.test(line)) {
      current = [];
      sections.set(line.trim(), current);
    } else current?.push(line.trim());
  }
  return sections;
}

describe('infra/compose/docker-compose.cluster.yml', () => {
  it('has two broker nodes, two API nodes, HAProxy, Redis, PostgreSQL, InfluxDB and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toStrictEqual(
      ['api-1', 'api-2', 'broker-1', 'broker-2', 'grafana', 'haproxy', 'influxdb', 'postgres', 'redis'].sort(),
    );
  });

  it('runs sus broker and sus api on the shared Redis and PostgreSQL, each broker node with a spool volume of its own', () => {
    const nodes = ['broker-1', 'broker-2', 'api-1', 'api-2'].map((name) => {
      const s = compose.services[name]!;
      return [name, s.command, s.environment?.REDIS_URL, s.environment?.DATABASE_URL];
    });
    const redis = `redis://:\${SUS_REDIS_PASSWORD}@redis:6379`;
    const pg = `postgres://sus:\${SUS_POSTGRES_PASSWORD}@postgres:5432/sus`;
    expect(nodes).toStrictEqual([
      ['broker-1', ['bin/sus.mjs', 'broker'], redis, pg],
      ['broker-2', ['bin/sus.mjs', 'broker'], redis, pg],
      ['api-1', ['bin/sus.mjs', 'api'], redis, pg],
      ['api-2', ['bin/sus.mjs', 'api'], redis, pg],
    ]);
    const spools = ['broker-1', 'broker-2'].map((n) =>
      compose.services[n]!.volumes!.find((v) => v.endsWith(':/var/lib/sus')),
    );
    expect(spools).toStrictEqual(['broker-1-data:/var/lib/sus', 'broker-2-data:/var/lib/sus']);
    for (const v of spools) expect(compose.volumes).toHaveProperty(v!.split(':')[0]!);
  });

  it('publishes MQTT, MQTTS and the API only through HAProxy', () => {
    const published = Object.entries(compose.services)
      .filter(([, s]) => s.ports?.some((p) => !p.startsWith('127.0.0.1:')))
      .map(([name, s]) => [name, s.ports!.filter((p) => !p.startsWith('127.0.0.1:'))]);
    expect(published).toStrictEqual([
      ['haproxy', ['1883:1883', '8883:8883', '8080:8080']],
      ['grafana', ['3000:3000']],
    ]);
    expect(compose.services.haproxy!.volumes).toStrictEqual([
      './cluster/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro',
    ]);
  });

  it('names in .env.example every variable it requires', () => {
    const required = [...read(path.join(COMPOSE, 'docker-compose.cluster.yml')).matchAll(/\$\{(\w+):\?/g)].map(
      (m) => m[1]!,
    );
    const example = read(path.join(COMPOSE, '.env.example'));
    expect(required.filter((name) => !new RegExp(`^${name}=`, 'm').test(example))).toStrictEqual([]);
    expect(new Set(required)).toContain('SUS_REDIS_PASSWORD');
  });
});

const haproxyMissing = (() => {
  try {
    execFileSync('bash', [path.join(ROOT, 'infra/install-haproxy.sh')], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `Debian's haproxy is not installed and could not be: ${(err as Error).message.split('\n')[0]}`;
  }
})();

describe('infra/compose/cluster/haproxy.cfg', () => {
  it.skipIf(haproxyMissing !== undefined)("is a valid configuration for Debian's haproxy (haproxy -c -f)", () => {
    const r = spawnSync('haproxy', ['-c', '-f', haproxyCfg], { encoding: 'utf8' });
    // Outside Docker the service names do not resolve: haproxy warns and disables those servers, which is no error.
    expect([r.status, `${r.stdout}${r.stderr}`.includes('Configuration file is valid')]).toStrictEqual([0, true]);
    expect(`${r.stdout}${r.stderr}`.match(/\[ALERT\].*/g) ?? []).toStrictEqual([]);
  });

  it('balances MQTT and MQTTS as TCP over both broker nodes and the API as HTTP with /v1/health checks', () => {
    const s = haproxySections(read(haproxyCfg));
    const bindAndMode = (name: string) => {
      const lines = s.get(`frontend ${name}`) ?? [];
      return [lines.find((l) => l.startsWith('bind')), lines.find((l) => l.startsWith('mode'))];
    };
    expect([bindAndMode('mqtt'), bindAndMode('mqtts'), bindAndMode('api')]).toStrictEqual([
      ['bind :1883', 'mode tcp'],
      ['bind :8883', 'mode tcp'],
      ['bind :8080', 'mode http'],
    ]);
    const servers = (backend: string) =>
      (s.get(`backend ${backend}`) ?? []).filter((l) => l.startsWith('server')).map((l) => l.split(/\s+/)[2]);
    expect([servers('brokers-mqtt'), servers('brokers-mqtts'), servers('api-nodes')]).toStrictEqual([
      ['broker-1:1883', 'broker-2:1883'],
      ['broker-1:8883', 'broker-2:8883'],
      ['api-1:8080', 'api-2:8080'],
    ]);
    const api = s.get('backend api-nodes') ?? [];
    expect(api.filter((l) => l.startsWith('option httpchk') || l.startsWith('http-check'))).toStrictEqual([
      'option httpchk',
      'http-check send meth GET uri /v1/health',
      'http-check expect status 200',
    ]);
    for (const backend of ['brokers-mqtt', 'brokers-mqtts', 'api-nodes'])
      expect(
        (s.get(`backend ${backend}`) ?? []).filter((l) => l.startsWith('server') && !l.includes(' check')),
      ).toStrictEqual([]);
  });
});

// The kinds the manifests use, with the Kubernetes API schema each is validated against.
const MODELS = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
} as const;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: unknown;
}
const kustomization = parse(read(path.join(K8S, 'kustomization.yaml'))) as {
  resources: string[];
  secretGenerator: Array<{ name: string; envs: string[] }>;
};
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(path.join(K8S, file))).map((d) => d.toJS() as Manifest),
);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
// Typed through the models, for the checks of what the schema cannot see.
const statefulSets = () => byKind('StatefulSet').map((m) => new StatefulSet(m as never));
const deployments = () => byKind('Deployment').map((m) => new Deployment(m as never));

/** The schema's verdict on one manifest: undefined when valid, else the validator's message. */
function schemaProblem(m: Manifest): string | undefined {
  const Model = MODELS[`${m.apiVersion}/${m.kind}` as keyof typeof MODELS];
  if (!Model) return `no schema for ${m.apiVersion} ${m.kind}`;
  try {
    new Model(m as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('infra/k8s manifests', () => {
  it('are valid Kubernetes API objects, every one of them', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toStrictEqual([
      'Namespace/sus',
      'ConfigMap/sus-config',
      'Service/sus-broker-nodes',
      'Service/sus-mqtt',
      'StatefulSet/sus-broker',
      'PodDisruptionBudget/sus-broker',
      'Service/sus-api',
      'Deployment/sus-api',
      'PodDisruptionBudget/sus-api',
    ]);
    expect(manifests.map((m) => [m.metadata.name, schemaProblem(m)]).filter(([, p]) => p)).toStrictEqual([]);
  });

  it('the schema check refuses a manifest the API server would refuse (a string where it takes an integer)', () => {
    const broken = structuredClone(byKind('StatefulSet')[0]!) as Manifest & { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(schemaProblem(broken)).toContain('replicas must be integer');
  });

  it('runs broker nodes as a StatefulSet with a spool volume per node and the API as a Deployment, both probed', () => {
    const broker = statefulSets()[0]!;
    const api = deployments()[0]!;
    const bc = broker.spec!.template.spec!.containers[0]!;
    const ac = api.spec!.template.spec!.containers[0]!;
    expect([bc.command, ac.command]).toStrictEqual([
      ['bin/sus.mjs', 'broker'],
      ['bin/sus.mjs', 'api'],
    ]);
    expect(broker.spec!.volumeClaimTemplates?.map((t) => t.metadata?.name)).toStrictEqual(['spool']);
    expect(bc.volumeMounts?.find((v) => v.name === 'spool')?.mountPath).toBe('/var/lib/sus');
    expect(new ConfigMap(byKind('ConfigMap')[0] as never).data?.SUS_DATA_DIR).toBe('/var/lib/sus');
    for (const c of [bc, ac]) expect([!!c.readinessProbe, !!c.livenessProbe]).toStrictEqual([true, true]);
    expect(ac.readinessProbe?.httpGet?.path).toBe('/v1/health');
  });

  it('covers each workload with a PodDisruptionBudget selecting its pods', () => {
    const workloads = [...statefulSets(), ...deployments()];
    const pdbs = byKind('PodDisruptionBudget').map((m) => new PodDisruptionBudget(m as never));
    const covered = workloads.map((w) => {
      const labels = w.spec!.template.metadata?.labels ?? {};
      const pdb = pdbs.find((p) =>
        Object.entries(p.spec?.selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v),
      );
      return [w.metadata?.name, pdb?.metadata?.name];
    });
    expect(covered).toStrictEqual([
      ['sus-broker', 'sus-broker'],
      ['sus-api', 'sus-api'],
    ]);
  });

  it('takes secrets from the environment: the generated Secret every pod reads, its keys in secrets.env.example', () => {
    const [generator] = kustomization.secretGenerator;
    const refs = [...statefulSets(), ...deployments()].flatMap((w) =>
      w.spec!.template.spec!.containers.flatMap((c) => (c.envFrom ?? []).flatMap((e) => e.secretRef?.name ?? [])),
    );
    expect(refs).toStrictEqual([generator!.name, generator!.name]);
    expect(generator!.envs).toStrictEqual(['secrets.env']);
    const example = read(path.join(K8S, 'secrets.env.example'));
    const keys = [...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]);
    expect(keys).toStrictEqual(['SUS_ADMIN_KEY', 'DATABASE_URL', 'REDIS_URL', 'INFLUX_TOKEN']);
    // No secret value in the manifests themselves.
    const plain = manifests.flatMap(
      (m) => JSON.stringify(m).match(/"(SUS_ADMIN_KEY|DATABASE_URL|REDIS_URL|INFLUX_TOKEN)"/g) ?? [],
    );
    expect(plain).toStrictEqual([]);
  });
});
