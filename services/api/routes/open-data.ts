import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { DatasetId } from '../../common/grammar.ts';
import type { Grant } from '../../registry/index.ts';
import { resolveRead } from '../access.ts';
import { sendRaw } from '../csv.ts';
import type { ApiDeps } from '../deps.ts';
import { sendLatest } from '../latest.ts';
import { catalogTriples } from '../open-catalog.ts';
import { publicApiUrl } from '../public-url.ts';
import { toJsonLd, toTurtle } from '../rdf.ts';
import {
  AggregateQuerySchema,
  AggregateSchema,
  DatasetSchema,
  LatestDeviceSchema,
  LatestQuerySchema,
  ProblemSchema,
} from '../schemas.ts';
import { sendAggregate } from './aggregate.ts';

const DatasetParams = z.object({ id: DatasetId });

const toDataset = (g: Grant) => ({
  id: g.id,
  title: g.title,
  owner: g.owner,
  licence: g.licence,
  purpose: g.purpose,
  quantities: g.quantities,
  updateIntervalS: g.updateIntervalS,
  aggregationFloorS: g.aggregationFloorS,
  expiresAt: g.expiresAt,
});

async function dataset(deps: ApiDeps, id: string): Promise<Grant> {
  const g = (await deps.grants.publicDatasets()).find((d) => d.id === id);
  if (!g) throw new SusError('SUS_ERR_DATASET_NOT_FOUND', `open dataset '${id}' does not exist`, 404, { id });
  return g;
}

/** Open data: every public grant is a dataset, served without a key; each read is audited for its owner. */
export const openDataRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/open/datasets',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['open data'],
          summary: 'The open-data catalogue: title, owner, licence, quantities, update interval',
          security: [],
          response: { 200: z.object({ datasets: z.array(DatasetSchema) }) },
        },
      },
      async () => ({ datasets: (await deps.grants.publicDatasets()).map(toDataset) }),
    );

    app.get(
      '/v1/open/datasets/:id/latest',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['open data'],
          summary: "Latest values of the dataset's devices (JSON, CSV or GeoJSON)",
          description: 'Every answer has a weak ETag; If-None-Match with it answers 304 (maps poll).',
          security: [],
          params: DatasetParams,
          querystring: LatestQuerySchema.omit({ department: true, device: true }),
          response: {
            200: z.object({ devices: z.array(LatestDeviceSchema) }),
            400: ProblemSchema,
            403: ProblemSchema,
            404: ProblemSchema,
          },
        },
      },
      async (req, reply) => {
        const g = await dataset(deps, req.params.id);
        const names = req.query.quantity?.length ? req.query.quantity : g.quantities;
        const scope = await resolveRead(
          deps,
          req,
          { department: g.owner, district: req.query.district, quantities: names },
          { reader: null, grantId: g.id },
        );
        return sendLatest(deps, req, reply, names, scope, req.query);
      },
    );

    app.get(
      '/v1/open/datasets/:id/aggregate',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['open data'],
          summary: 'Windowed aggregates of the dataset (JSON or CSV)',
          security: [],
          params: DatasetParams,
          querystring: AggregateQuerySchema.omit({ department: true }),
          response: { 200: AggregateSchema, 400: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req, reply) => {
        const g = await dataset(deps, req.params.id);
        const q = req.query;
        return sendAggregate(deps, req, reply, q, (r) =>
          resolveRead(
            deps,
            req,
            { ...r, department: g.owner, device: q.device, district: q.district },
            { reader: null, grantId: g.id },
          ),
        );
      },
    );

    app.get(
      '/v1/open/catalog',
      {
        config: { scope: 'public' },
        schema: {
          tags: ['open data'],
          summary:
            'The DCAT-AP.de catalogue of the open datasets, as JSON-LD or Turtle (Accept: text/turtle or ?format=ttl)',
          description:
            'One dcat:Dataset per active public grant with its publisher, contact point, licence (GovData vocabulary), spatial and temporal coverage, update frequency, keywords and CSV, GeoJSON and SensorThings distributions; for harvesting by CKAN (ckanext-dcat) and GovData.',
          security: [],
          querystring: z.object({ format: z.enum(['jsonld', 'ttl']).optional() }),
          produces: ['application/ld+json', 'text/turtle'],
        },
      },
      async (req, reply) => {
        const [grants, departments, devices] = await Promise.all([
          deps.grants.publicDatasets(),
          deps.registry.listDepartments(),
          deps.registry.listDevices(),
        ]);
        const triples = catalogTriples({
          base: publicApiUrl(deps.config.SUS_PUBLIC_API_URL, req),
          publisher: deps.config.SUS_OPEN_DATA_PUBLISHER,
          defaultLicence: deps.config.SUS_OPEN_DATA_LICENCE,
          contactEmail: deps.config.SUS_OPEN_DATA_CONTACT_EMAIL,
          grants,
          departments,
          devices,
          catalogue: deps.catalogue,
          now: new Date(),
        });
        const turtle =
          req.query.format === 'ttl' ||
          (req.query.format === undefined && (req.headers.accept ?? '').includes('text/turtle'));
        return turtle
          ? sendRaw(reply, 200, 'text/turtle; charset=utf-8', toTurtle(triples))
          : sendRaw(reply, 200, 'application/ld+json; charset=utf-8', JSON.stringify(toJsonLd(triples)));
      },
    );
  };
