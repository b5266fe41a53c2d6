import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import formats from '@rdfjs/formats';
import rdf from '@zazuko/env';
import { Parser, type Quad, Store } from 'n3';
import SHACLValidator from 'rdf-validate-shacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

const SHAPES = new URL('../../fixtures/dcat-ap/', import.meta.url);
const DCAT = 'http://www.w3.org/ns/dcat#';
const DCT = 'http://purl.org/dc/terms/';
const RDF_TYPE = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#type';

rdf.formats.import(formats);

const parseTurtle = (text: string): Quad[] => new Parser({ format: 'text/turtle' }).parse(text);

async function parseJsonLd(text: string): Promise<Quad[]> {
  const stream = rdf.formats.parsers.import('application/ld+json', Readable.from([text]));
  if (!stream) throw new Error('no JSON-LD parser');
  return new Promise((resolve, reject) => {
    const out: Quad[] = [];
    stream.on('data', (q: Quad) => out.push(q));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}

/** Triples as sorted strings; a blank node is named by the triple that points at it (each is referenced once). */
function canonical(quads: Quad[]): string[] {
  const name = new Map<string, string>();
  for (const q of quads)
    if (q.object.termType === 'BlankNode') name.set(q.object.value, `[${q.subject.value} ${q.predicate.value}]`);
  const term = (t: Quad['subject'] | Quad['object']) =>
    t.termType === 'BlankNode'
      ? (name.get(t.value) ?? t.value)
      : t.termType === 'Literal'
        ? JSON.stringify([t.value, t.language, t.datatype.value])
        : `<${t.value}>`;
  return quads.map((q) => `${term(q.subject)} <${q.predicate.value}> ${term(q.object)}`).sort();
}

async function validate(quads: Quad[], files: string[]) {
  const shapes = rdf.dataset();
  for (const f of files) for (const q of parseTurtle(readFileSync(new URL(f, SHAPES), 'utf8'))) shapes.add(q);
  const data = rdf.dataset();
  for (const q of quads) data.add(q);
  const report = await new SHACLValidator(shapes, { factory: rdf }).validate(data);
  return {
    conforms: report.conforms,
    results: report.results.map(
      (r) => `${r.focusNode?.value} ${r.path?.value}: ${r.message.map((m) => m.value).join(' ')}`,
    ),
  };
}

/** What CKAN's ckanext-dcat (DCAT-AP profile) takes from each dcat:Dataset of a harvested catalogue. */
function harvest(quads: Quad[]) {
  const store = new Store(quads);
  const node = (s: Quad['subject'] | undefined, p: string) => (s ? store.getObjects(s, p, null)[0] : undefined);
  const one = (s: Quad['subject'] | string | undefined, p: string, lang?: string) =>
    s === undefined
      ? undefined
      : store
          .getObjects(s, p, null)
          .find((o) => lang === undefined || (o.termType === 'Literal' && o.language === lang))?.value;
  const all = (s: string, p: string) =>
    store
      .getObjects(s, p, null)
      .map((o) => o.value)
      .sort();
  return store.getSubjects(RDF_TYPE, `${DCAT}Dataset`, null).map((ds) => {
    const spatial = node(ds, `${DCT}spatial`) as Quad['subject'] | undefined;
    const temporal = node(ds, `${DCT}temporal`) as Quad['subject'] | undefined;
    return {
      name: one(ds.value, `${DCT}identifier`),
      title: one(ds.value, `${DCT}title`, 'de'),
      title_en: one(ds.value, `${DCT}title`, 'en'),
      notes: one(ds.value, `${DCT}description`, 'de'),
      publisher: one(one(ds.value, `${DCT}publisher`)!, 'http://xmlns.com/foaf/0.1/name'),
      contact: one(node(ds, `${DCAT}contactPoint`) as Quad['subject'], 'http://www.w3.org/2006/vcard/ns#hasEmail'),
      tags: all(ds.value, `${DCAT}keyword`),
      frequency: one(ds.value, `${DCT}accrualPeriodicity`),
      spatial: one(spatial, `${DCAT}bbox`),
      temporal_start: one(temporal, `${DCAT}startDate`),
      resources: store
        .getObjects(ds, `${DCAT}distribution`, null)
        .map((d) => ({
          url: one(d.value, `${DCAT}accessURL`),
          format: one(d.value, `${DCT}format`),
          mimetype: one(d.value, `${DCAT}mediaType`),
          license: one(d.value, `${DCT}license`),
        }))
        .sort((a, b) => String(a.url).localeCompare(String(b.url))),
    };
  });
}

describe('open data: the DCAT-AP.de catalogue /v1/open/catalog', () => {
  let h: Harness;
  const grantIds: Record<string, string> = {};
  const created: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness({
      SUS_OPEN_DATA_PUBLISHER: 'Stadt Beispielstadt',
      SUS_OPEN_DATA_CONTACT_EMAIL: 'opendata@beispielstadt.de',
    });
    for (const [id, dept, type, lat, lon] of [
      ['aq-1', 'environment', 'air_quality', 48.5, 9.2],
      ['aq-2', 'environment', 'air_quality', 48.4, 9.3],
      ['wl-1', 'waste', 'water_level', 48.45, 9.25],
    ] as const) {
      const r = await h.admin('POST', '/v1/devices', {
        id,
        name: id,
        department: dept,
        type,
        district: 'Nord',
        lat,
        lon,
      });
      expect(r.status).toBe(201);
    }
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    for (const [key, owner, grantee, body] of [
      [
        'air',
        'environment',
        'public',
        {
          title: 'Luftqualität',
          purpose: 'Feinstaub in der Stadt.',
          quantities: ['pm10', 'pm2_5'],
          licence: 'cc-by/4.0',
          updateIntervalS: 300,
          deviceTypes: ['air_quality'],
          from: '2026-01-01T00:00:00.000Z',
        },
      ],
      [
        'water',
        'waste',
        'public',
        {
          title: 'Pegelstände',
          purpose: 'Wasserstände der "Bäche" \\ Echaz.\n\tTäglich geprüft.',
          quantities: ['water_level'],
          licence: null,
        },
      ],
      ['internal', 'environment', 'traffic', { title: 'Intern', purpose: 'nur für Verkehr', quantities: ['no2'] }],
    ] as const) {
      const r = await h.admin<{ id: string; createdAt: string }>('POST', '/v1/grants', {
        ...body,
        owner,
        grantee,
        expiresAt,
      });
      expect(r.status).toBe(201);
      grantIds[key] = r.body.id;
      created[key] = r.body.createdAt;
    }
  });
  afterAll(async () => h?.stop());

  it('serves the same graph as JSON-LD (default) and Turtle (Accept or ?format=ttl)', async () => {
    const jsonld = await fetch(`${h.base}/v1/open/catalog`);
    expect(jsonld.headers.get('content-type')).toBe('application/ld+json; charset=utf-8');
    const turtle = await fetch(`${h.base}/v1/open/catalog`, { headers: { accept: 'text/turtle' } });
    expect(turtle.headers.get('content-type')).toBe('text/turtle; charset=utf-8');
    const ttlText = await turtle.text();
    const viaQuery = await (await fetch(`${h.base}/v1/open/catalog?format=ttl`)).text();
    const a = canonical(await parseJsonLd(await jsonld.text()));
    const b = canonical(parseTurtle(ttlText));
    expect(a.length).toBeGreaterThan(50);
    // Only dct:modified of the catalogue (the time of the answer) may differ between the three answers.
    const stable = (xs: string[]) => xs.filter((x) => !x.includes(`${DCT}modified`));
    expect(stable(a)).toStrictEqual(stable(b));
    expect(stable(canonical(parseTurtle(viaQuery)))).toStrictEqual(stable(b));
  });

  it('is valid against the DCAT-AP 2.1.1 SHACL shapes (classes, cardinalities, ranges, recommended properties)', async () => {
    const quads = parseTurtle(await (await fetch(`${h.base}/v1/open/catalog?format=ttl`)).text());
    expect(
      await validate(quads, [
        'dcat-ap_2.1.1_shacl_shapes.ttl',
        'dcat-ap_2.1.1_shacl_range.ttl',
        'dcat-ap_2.1.1_shacl_shapes_recommended.ttl',
      ]),
    ).toStrictEqual({ conforms: true, results: [] });
    // The shapes do catch a broken catalogue: datasets without a title.
    const broken = quads.filter(
      (q) => !(q.predicate.value === `${DCT}title` && q.subject.value.includes('/v1/open/datasets/')),
    );
    const report = await validate(broken, ['dcat-ap_2.1.1_shacl_shapes.ttl']);
    expect(report.conforms).toBe(false);
    expect(report.results.length).toBe(2);
  });

  it('is read by a CKAN-style harvest: one dataset per public grant with its resources, licence and coverage', async () => {
    const base = h.base;
    const quads = parseTurtle(await (await fetch(`${base}/v1/open/catalog?format=ttl`)).text());
    const got = harvest(quads).sort((x, y) => String(x.name).localeCompare(String(y.name)));
    const EU = 'http://publications.europa.eu/resource/authority/';
    const resources = (id: string, licence: string, sta: string) => [
      {
        url: `${base}/sta/v1.1/Datastreams?$filter=${encodeURIComponent(sta)}`,
        format: `${EU}file-type/JSON`,
        mimetype: 'http://www.iana.org/assignments/media-types/application/json',
        license: licence,
      },
      {
        url: `${base}/v1/open/datasets/${id}/latest?format=csv`,
        format: `${EU}file-type/CSV`,
        mimetype: 'http://www.iana.org/assignments/media-types/text/csv',
        license: licence,
      },
      {
        url: `${base}/v1/open/datasets/${id}/latest?format=geojson`,
        format: `${EU}file-type/GEOJSON`,
        mimetype: 'http://www.iana.org/assignments/media-types/application/geo+json',
        license: licence,
      },
    ];
    const want = [
      {
        name: grantIds.air,
        title: 'Luftqualität',
        title_en: 'Luftqualität',
        notes:
          'Feinstaub in der Stadt. Messgrößen: pm10, pm2_5. Herausgeber: environment. Aktualisierung etwa alle 300 s.',
        publisher: 'environment',
        contact: 'mailto:opendata@beispielstadt.de',
        tags: ['pm10', 'pm2_5', 'sensor data', 'Sensordaten'].sort(),
        frequency: `${EU}frequency/UPDATE_CONT`,
        spatial: 'POLYGON((9.2 48.4, 9.3 48.4, 9.3 48.5, 9.2 48.5, 9.2 48.4))',
        temporal_start: '2026-01-01T00:00:00.000Z',
        resources: resources(
          grantIds.air!,
          'http://dcat-ap.de/def/licenses/cc-by/4.0',
          "Thing/properties/department eq 'environment' and (ObservedProperty/name eq 'pm10' or ObservedProperty/name eq 'pm2_5')",
        ),
      },
      {
        name: grantIds.water,
        title: 'Pegelstände',
        title_en: 'Pegelstände',
        // Quotes, backslashes, line breaks and tabs of a purpose survive both serialisations.
        notes: 'Wasserstände der "Bäche" \\ Echaz.\n\tTäglich geprüft. Messgrößen: water_level. Herausgeber: waste.',
        publisher: 'waste',
        contact: 'mailto:opendata@beispielstadt.de',
        tags: ['Sensordaten', 'sensor data', 'water_level'].sort(),
        frequency: `${EU}frequency/UPDATE_CONT`,
        spatial: 'POLYGON((9.25 48.45, 9.25 48.45, 9.25 48.45, 9.25 48.45, 9.25 48.45))',
        temporal_start: created.water,
        resources: resources(
          grantIds.water!,
          'http://dcat-ap.de/def/licenses/dl-by-de/2.0',
          "Thing/properties/department eq 'waste' and (ObservedProperty/name eq 'water_level')",
        ),
      },
    ].sort((x, y) => String(x.name).localeCompare(String(y.name)));
    expect(got).toStrictEqual(want);
  });
});
