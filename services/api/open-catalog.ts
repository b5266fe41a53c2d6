import type { Catalogue } from '../common/catalogue.ts';
import { type Department, type Device, type Grant, grantCovers } from '../registry/index.ts';
import { iri, type Term, type Triple } from './rdf.ts';

/**
 * The DCAT-AP.de catalogue of the open data: one dcat:Dataset per active public grant, with the publishing
 * department, a contact point, the licence (GovData's licence vocabulary), spatial and temporal coverage, update
 * frequency, keywords and three distributions (CSV, GeoJSON, SensorThings). CKAN's ckanext-dcat harvests it.
 */

/** GovData's licence vocabulary (http://dcat-ap.de/def/licenses/), by the ids and SPDX names grants use. */
const GOVDATA_LICENCES: Record<string, string> = {
  'dl-by-de/2.0': 'dl-by-de/2.0',
  'dl-zero-de/2.0': 'dl-zero-de/2.0',
  'cc-by/4.0': 'cc-by/4.0',
  'cc-by-4.0': 'cc-by/4.0',
  'cc-by-sa/4.0': 'cc-by-sa/4.0',
  'cc-by-sa-4.0': 'cc-by-sa/4.0',
  'cc-zero': 'cc-zero',
  'cc0-1.0': 'cc-zero',
  odbl: 'odbl',
};
const LICENCE_NS = 'http://dcat-ap.de/def/licenses/';
const EU = 'http://publications.europa.eu/resource/authority/';

/** The licence IRI of a grant: its own when it names one of GovData's, else the platform's default. */
export function licenceOf(grantLicence: string | null, fallback: string): string {
  if (grantLicence) {
    const l = grantLicence.trim();
    if (l.startsWith(LICENCE_NS)) return l;
    const id = GOVDATA_LICENCES[l.toLowerCase()];
    if (id) return LICENCE_NS + id;
  }
  return fallback;
}

/** EU frequency vocabulary from the grant's update interval. */
function frequency(updateIntervalS: number | null): string {
  if (updateIntervalS === null || updateIntervalS < 86_400) return `${EU}frequency/UPDATE_CONT`;
  if (updateIntervalS < 7 * 86_400) return `${EU}frequency/DAILY`;
  return `${EU}frequency/WEEKLY`;
}

const TRAFFIC_QUANTITIES = new Set(['vehicle_count', 'parking_occupied']);

const covers = (g: Grant, d: Device) =>
  d.department === g.owner && grantCovers(g, { deviceType: d.type, district: d.district });

/** [west, east, south, north] of the devices with a position. */
function bbox(devices: Device[]): [number, number, number, number] | undefined {
  const pts = devices.filter((d) => d.lat !== null && d.lon !== null);
  if (pts.length === 0) return undefined;
  const lons = pts.map((d) => d.lon!);
  const lats = pts.map((d) => d.lat!);
  return [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
}

export interface CatalogInput {
  base: string;
  publisher: string;
  defaultLicence: string;
  contactEmail: string | undefined;
  grants: Grant[];
  departments: Department[];
  devices: Device[];
  catalogue: Catalogue;
  now: Date;
}

export function catalogTriples(c: CatalogInput): Triple[] {
  const t: Triple[] = [];
  const add = (s: Triple[0], p: string, o: Term) => t.push([s, iri(p), o]);
  const lit = (s: string, lang?: string): Term => (lang ? { lit: s, lang } : { lit: s });
  const typed = (s: string, dt: string): Term => ({ lit: s, datatype: iri(dt) });
  const typedNodes = new Set<string>();
  /** A vocabulary entry typed as the DCAT-AP ranges expect (the range shapes check the class of each object). */
  const vocab = (uri: string, cls: string, label?: string): Term => {
    if (!typedNodes.has(uri)) {
      typedNodes.add(uri);
      add({ iri: uri }, 'rdf:type', { iri: iri(cls) });
      if (label) add({ iri: uri }, 'skos:prefLabel', lit(label, 'en'));
    }
    return { iri: uri };
  };
  const localAuthority = () =>
    vocab('http://purl.org/adms/publishertype/LocalAuthority', 'skos:Concept', 'Local Authority');
  const licenceDoc = (uri: string) => {
    const known = typedNodes.has(uri);
    const t = vocab(uri, 'dct:LicenseDocument');
    if (!known)
      add(
        t as { iri: string },
        'dct:type',
        vocab('http://purl.org/adms/licencetype/Attribution', 'skos:Concept', 'Attribution'),
      );
    return t;
  };
  const spatial = (s: Triple[0], key: string, box: [number, number, number, number]) => {
    const [w, e, so, n] = box;
    const wkt = `POLYGON((${w} ${so}, ${e} ${so}, ${e} ${n}, ${w} ${n}, ${w} ${so}))`;
    const loc = { bnode: key };
    add(s, 'dct:spatial', loc);
    add(loc, 'rdf:type', { iri: iri('dct:Location') });
    add(loc, 'dcat:bbox', typed(wkt, 'gsp:wktLiteral'));
    add(loc, 'dcat:centroid', typed(`POINT(${(w + e) / 2} ${(so + n) / 2})`, 'gsp:wktLiteral'));
    add(loc, 'locn:geometry', typed(wkt, 'gsp:wktLiteral'));
  };
  const catalog = { iri: `${c.base}/v1/open/catalog` };
  const publisher = { iri: `${c.base}/` };
  add(catalog, 'rdf:type', { iri: iri('dcat:Catalog') });
  add(catalog, 'dct:title', lit(`Offene Sensordaten – ${c.publisher}`, 'de'));
  add(catalog, 'dct:title', lit(`Open sensor data – ${c.publisher}`, 'en'));
  add(
    catalog,
    'dct:description',
    lit(`Messdaten der städtischen Sensoren, die die Fachämter als offene Daten freigegeben haben.`, 'de'),
  );
  add(catalog, 'dct:description', lit('Readings of the city sensors that departments publish as open data.', 'en'));
  add(catalog, 'dct:publisher', publisher);
  add(catalog, 'foaf:homepage', vocab(`${c.base}/`, 'foaf:Document'));
  add(catalog, 'dct:language', vocab(`${EU}language/DEU`, 'dct:LinguisticSystem'));
  add(catalog, 'dct:modified', typed(c.now.toISOString(), 'xsd:dateTime'));
  add(publisher, 'rdf:type', { iri: iri('foaf:Agent') });
  add(publisher, 'foaf:name', lit(c.publisher));
  add(publisher, 'dct:type', localAuthority());
  add(catalog, 'dct:license', licenceDoc(c.defaultLicence));
  add(catalog, 'dcat:themeTaxonomy', { iri: `${EU}data-theme` });
  if (!typedNodes.has(`${EU}data-theme`)) {
    typedNodes.add(`${EU}data-theme`);
    add({ iri: `${EU}data-theme` }, 'rdf:type', { iri: iri('skos:ConceptScheme') });
    add({ iri: `${EU}data-theme` }, 'dct:title', lit('Data theme', 'en'));
  }
  const issued = c.grants.map((g) => g.createdAt).sort()[0];
  if (issued) add(catalog, 'dct:issued', typed(issued, 'xsd:dateTime'));
  const everywhere = bbox(c.devices.filter((d) => c.grants.some((g) => covers(g, d))));
  if (everywhere) spatial(catalog, 'spatial_catalog', everywhere);

  const deptName = new Map(c.departments.map((d) => [d.id, d.name]));
  for (const g of c.grants) {
    const ds = { iri: `${c.base}/v1/open/datasets/${g.id}` };
    add(catalog, 'dcat:dataset', ds);
    const owner = deptName.get(g.owner) ?? g.owner;
    const quantities = g.quantities.map((q) => c.catalogue.get(q)).filter((q) => q !== undefined);
    add(ds, 'rdf:type', { iri: iri('dcat:Dataset') });
    add(ds, 'dct:identifier', lit(g.id));
    add(ds, 'dct:title', lit(g.title, 'de'));
    add(ds, 'dct:title', lit(g.title, 'en'));
    const every = g.updateIntervalS === null ? '' : ` Aktualisierung etwa alle ${g.updateIntervalS} s.`;
    const everyEn = g.updateIntervalS === null ? '' : ` Updated about every ${g.updateIntervalS} s.`;
    add(
      ds,
      'dct:description',
      lit(`${g.purpose} Messgrößen: ${g.quantities.join(', ')}. Herausgeber: ${owner}.${every}`, 'de'),
    );
    add(
      ds,
      'dct:description',
      lit(
        `${g.purpose} Quantities: ${quantities.map((q) => `${q.name} (${q.description.replace(/\.$/, '')})`).join('; ')}. Published by ${owner}.${everyEn}`,
        'en',
      ),
    );
    const dept = { iri: `${c.base}/v1/departments/${g.owner}` };
    add(ds, 'dct:publisher', dept);
    if (!typedNodes.has(dept.iri)) {
      typedNodes.add(dept.iri);
      add(dept, 'rdf:type', { iri: iri('foaf:Agent') });
      add(dept, 'foaf:name', lit(owner));
      add(dept, 'dct:type', localAuthority());
    }
    const contact = { bnode: `contact_${g.id}` };
    add(ds, 'dcat:contactPoint', contact);
    add(contact, 'rdf:type', { iri: iri('vcard:Organization') });
    // The range shapes check the class without inference: vcard:Organization is a vcard:Kind.
    add(contact, 'rdf:type', { iri: iri('vcard:Kind') });
    add(contact, 'vcard:fn', lit(`${owner} (${c.publisher})`));
    add(contact, c.contactEmail ? 'vcard:hasEmail' : 'vcard:hasURL', {
      iri: c.contactEmail ? `mailto:${c.contactEmail}` : `${c.base}/`,
    });
    add(ds, 'dcatde:maintainer', dept);
    for (const q of g.quantities) add(ds, 'dcat:keyword', lit(q));
    add(ds, 'dcat:keyword', lit('Sensordaten', 'de'));
    add(ds, 'dcat:keyword', lit('sensor data', 'en'));
    const theme = g.quantities.every((q) => TRAFFIC_QUANTITIES.has(q))
      ? ['TRAN', 'Transport']
      : ['ENVI', 'Environment'];
    add(ds, 'dcat:theme', vocab(`${EU}data-theme/${theme[0]}`, 'skos:Concept', theme[1]));
    add(ds, 'dct:accrualPeriodicity', vocab(frequency(g.updateIntervalS), 'dct:Frequency'));
    add(ds, 'dct:issued', typed(g.createdAt, 'xsd:dateTime'));
    // Spatial coverage: the bounding box of the devices the grant covers.
    const box = bbox(c.devices.filter((d) => covers(g, d)));
    if (box) spatial(ds, `spatial_${g.id}`, box);
    const period = { bnode: `temporal_${g.id}` };
    add(ds, 'dct:temporal', period);
    add(period, 'rdf:type', { iri: iri('dct:PeriodOfTime') });
    add(period, 'dcat:startDate', typed(g.from ?? g.createdAt, 'xsd:dateTime'));
    // Without an end of its window, the data is shared until the grant expires.
    add(period, 'dcat:endDate', typed(g.to ?? g.expiresAt, 'xsd:dateTime'));

    const licence = licenceDoc(licenceOf(g.licence, c.defaultLicence));
    const filter = `Thing/properties/department eq '${g.owner}' and (${g.quantities.map((q) => `ObservedProperty/name eq '${q}'`).join(' or ')})`;
    const dists: Array<[string, string, string, string, string, string]> = [
      [
        'csv',
        `${c.base}/v1/open/datasets/${g.id}/latest?format=csv`,
        'CSV',
        'text/csv',
        'Aktuelle Werte (CSV)',
        'Latest values (CSV)',
      ],
      [
        'geojson',
        `${c.base}/v1/open/datasets/${g.id}/latest?format=geojson`,
        'GEOJSON',
        'application/geo+json',
        'Aktuelle Werte (GeoJSON)',
        'Latest values (GeoJSON)',
      ],
      [
        'sta',
        `${c.base}/sta/v1.1/Datastreams?$filter=${encodeURIComponent(filter)}`,
        'JSON',
        'application/json',
        'OGC SensorThings API 1.1',
        'OGC SensorThings API 1.1',
      ],
    ];
    for (const [key, url, format, media, de, en] of dists) {
      const d = { iri: `${c.base}/v1/open/datasets/${g.id}#${key}` };
      add(ds, 'dcat:distribution', d);
      add(d, 'rdf:type', { iri: iri('dcat:Distribution') });
      add(d, 'dct:title', lit(de, 'de'));
      add(d, 'dct:title', lit(en, 'en'));
      add(d, 'dct:description', lit(`${de}: ${g.title}`, 'de'));
      add(d, 'dct:description', lit(`${en}: ${g.title}`, 'en'));
      add(
        d,
        'dcatap:availability',
        vocab(
          'http://publications.europa.eu/resource/authority/planned-availability/AVAILABLE',
          'skos:Concept',
          'available',
        ),
      );
      add(d, 'dcat:accessURL', { iri: url });
      add(d, 'dct:format', vocab(`${EU}file-type/${format}`, 'dct:MediaTypeOrExtent'));
      add(d, 'dcat:mediaType', vocab(`http://www.iana.org/assignments/media-types/${media}`, 'dct:MediaType'));
      add(d, 'dct:license', licence);
      add(d, 'dcatde:licenseAttributionByText', lit(`${owner}, ${c.publisher}`));
      if (key === 'sta')
        add(d, 'dct:conformsTo', vocab('http://www.opengis.net/doc/is/sensorthings/1.1', 'dct:Standard'));
    }
  }
  return t;
}
