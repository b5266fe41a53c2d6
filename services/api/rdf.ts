/**
 * A small RDF graph and its two serialisations, Turtle and JSON-LD, for the open-data catalogue: one list of
 * triples is the single source of both answers. Literals are escaped here, so text from the registry (titles,
 * purposes, names) cannot break out of a literal in either syntax.
 */
export type Term = { iri: string } | { bnode: string } | { lit: string; lang?: string; datatype?: string };
export type Triple = readonly [subject: { iri: string } | { bnode: string }, predicate: string, object: Term];

export const PREFIXES: Record<string, string> = {
  rdf: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  dcat: 'http://www.w3.org/ns/dcat#',
  dct: 'http://purl.org/dc/terms/',
  dcatde: 'http://dcat-ap.de/def/dcatde/',
  foaf: 'http://xmlns.com/foaf/0.1/',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  locn: 'http://www.w3.org/ns/locn#',
  gsp: 'http://www.opengis.net/ont/geosparql#',
  skos: 'http://www.w3.org/2004/02/skos/core#',
  dcatap: 'http://data.europa.eu/r5r/',
};

/** `dct:title` → full IRI. */
export const iri = (curie: string): string => {
  const i = curie.indexOf(':');
  const ns = PREFIXES[curie.slice(0, i)];
  if (!ns) throw new Error(`unknown prefix in ${curie}`);
  return ns + curie.slice(i + 1);
};

const TTL_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const uEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/** One pass over the characters (no control characters in a regular expression). */
function escaped(s: string, escapeOf: (c: string, code: number) => string | undefined): string {
  let out = '';
  for (const c of s) out += escapeOf(c, c.charCodeAt(0)) ?? c;
  return out;
}
const ttlString = (s: string) =>
  `"${escaped(s, (c, code) => TTL_ESCAPES[c] ?? (code < 0x20 || code === 0x7f ? uEscape(c) : undefined))}"`;
// IRIs come from the platform's own URLs and vocabularies; characters Turtle forbids in an IRI are escaped anyway.
const ttlIri = (s: string) =>
  `<${escaped(s, (c, code) => (code <= 0x20 || '<>"{}|^`\\'.includes(c) ? uEscape(c) : undefined))}>`;

function compact(full: string): string | undefined {
  for (const [p, ns] of Object.entries(PREFIXES))
    if (full.startsWith(ns) && /^[A-Za-z][A-Za-z0-9_-]*$/.test(full.slice(ns.length)))
      return `${p}:${full.slice(ns.length)}`;
  return undefined;
}

function ttlTerm(t: Term): string {
  if ('iri' in t) return compact(t.iri) ?? ttlIri(t.iri);
  if ('bnode' in t) return `_:${t.bnode}`;
  const s = ttlString(t.lit);
  if (t.lang) return `${s}@${t.lang}`;
  if (t.datatype) return `${s}^^${compact(t.datatype) ?? ttlIri(t.datatype)}`;
  return s;
}

const subjectKey = (s: Triple[0]) => ('iri' in s ? `<${s.iri}>` : `_:${s.bnode}`);

function bySubject(triples: readonly Triple[]): Map<string, { s: Triple[0]; po: Array<[string, Term]> }> {
  const m = new Map<string, { s: Triple[0]; po: Array<[string, Term]> }>();
  for (const [s, p, o] of triples) {
    const k = subjectKey(s);
    const e = m.get(k) ?? { s, po: [] };
    if (!m.has(k)) m.set(k, e);
    e.po.push([p, o]);
  }
  return m;
}

export function toTurtle(triples: readonly Triple[]): string {
  const lines = Object.entries(PREFIXES).map(([p, ns]) => `@prefix ${p}: <${ns}> .`);
  for (const { s, po } of bySubject(triples).values()) {
    lines.push('');
    const preds = po.map(([p, o]) => `    ${p === iri('rdf:type') ? 'a' : (compact(p) ?? ttlIri(p))} ${ttlTerm(o)}`);
    lines.push(`${'iri' in s ? (compact(s.iri) ?? ttlIri(s.iri)) : `_:${s.bnode}`}\n${preds.join(' ;\n')} .`);
  }
  return `${lines.join('\n')}\n`;
}

function jsonTerm(t: Term): unknown {
  if ('iri' in t) return { '@id': t.iri };
  if ('bnode' in t) return { '@id': `_:${t.bnode}` };
  if (t.lang) return { '@value': t.lit, '@language': t.lang };
  if (t.datatype) return { '@value': t.lit, '@type': t.datatype };
  return { '@value': t.lit };
}

/** JSON-LD in expanded form inside a @graph (full IRIs: no context needed to read it). */
export function toJsonLd(triples: readonly Triple[]): { '@graph': unknown[] } {
  const graph: unknown[] = [];
  for (const { s, po } of bySubject(triples).values()) {
    const node: Record<string, unknown> = { '@id': 'iri' in s ? s.iri : `_:${s.bnode}` };
    for (const [p, o] of po) {
      if (p === iri('rdf:type') && 'iri' in o) {
        node['@type'] = [...((node['@type'] as string[] | undefined) ?? []), o.iri];
        continue;
      }
      node[p] = [...((node[p] as unknown[] | undefined) ?? []), jsonTerm(o)];
    }
    graph.push(node);
  }
  return { '@graph': graph };
}
