import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import { SusError } from '../../common/errors.ts';
import { ClaimCode, DepartmentId, DeviceId, DeviceTypeId, name, tagValue } from '../../common/grammar.ts';
import { brokerUrls, credentialsFor, provisioningBundle } from '../../common/provisioning.ts';
import { targetDepartment } from '../auth.ts';
import { sendRaw } from '../csv.ts';
import type { ApiDeps } from '../deps.ts';
import { createDeviceAs } from '../device-ids.ts';
import { HOST_HEADER } from '../public-url.ts';
import { BundleSchema, ClaimCodeSchema, ProblemSchema } from '../schemas.ts';

export const NewClaimSchema = z.object({
  department: DepartmentId.optional().describe("defaults to the key's department"),
  type: DeviceTypeId,
  name: name().optional(),
  district: tagValue().optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  ttlS: z
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .optional()
    .describe('default SUS_CLAIM_TTL_S'),
});

export const ClaimRequestSchema = z.object({
  code: ClaimCode,
  id: DeviceId.optional().describe('device id wanted (e.g. derived from the MAC); chosen by the server when absent'),
  name: name().optional(),
});

/**
 * The broker address(es) devices are told to use: SUS_PUBLIC_MQTT_URL, else derived from the request's Host
 * header, which must then be a plain host (a client's header must not put a path, user info or a second host into
 * a device's bundle).
 */
export function mqttUrls(config: ApiDeps['config'], requestHost: string | undefined): string[] {
  if (config.SUS_PUBLIC_MQTT_URL) return brokerUrls(config, '');
  if (requestHost !== undefined && !HOST_HEADER.test(requestHost))
    throw new SusError(
      'SUS_ERR_BAD_HOST',
      "the request's Host header is not a host name, so the bundle cannot name the broker: use the platform's address (or the operator sets SUS_PUBLIC_MQTT_URL)",
      400,
      { field: 'host' },
    );
  return brokerUrls(config, (requestHost ?? '127.0.0.1').replace(/:\d+$/, ''));
}

function caCertificate(deps: ApiDeps): string | null {
  const ca = deps.config.SUS_MQTT_TLS_CA;
  if (!ca) return null;
  return ca.startsWith('-----BEGIN') ? ca : readFileSync(ca, 'utf8');
}

export const provisionRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/v1/claims',
      {
        config: { scope: 'provision' },
        schema: {
          tags: ['provisioning'],
          summary: 'Create a one-time, expiring claim code for a department and device type',
          body: NewClaimSchema,
          response: { 201: ClaimCodeSchema, 400: ProblemSchema, 403: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req, reply) => {
        const department = targetDepartment(req, req.body.department, 'department');
        const { code, claim } = await deps.claims.create(
          {
            ...req.body,
            department,
            ttlS: req.body.ttlS ?? deps.config.SUS_CLAIM_TTL_S,
            createdBy: req.principal?.id ?? null,
          },
          deps.config.SUS_CLAIM_MAX_OPEN,
        );
        return reply.code(201).send({ code, department, type: claim.type, expiresAt: claim.expiresAt });
      },
    );

    app.post(
      '/v1/provision/claim',
      {
        // The claim code is the credential: a device in the field has no API key.
        config: { scope: 'public' },
        schema: {
          tags: ['provisioning'],
          summary: 'Redeem a claim code for a provisioning bundle (JSON, or a QR code of it as PNG or SVG)',
          description:
            'Accept: image/png or image/svg+xml (or ?format=png|svg) returns the bundle as a QR code for the technician.',
          security: [],
          body: ClaimRequestSchema,
          response: { 201: BundleSchema, 400: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req, reply) => {
        // Checked before the code is spent.
        const urls = mqttUrls(deps.config, req.headers.host);
        const claim = await deps.claims.redeem(req.body.code);
        let created: Awaited<ReturnType<typeof deps.registry.createDevice>>;
        try {
          created = await createDeviceAs(
            deps.registry,
            {
              id: req.body.id,
              name: req.body.name ?? claim.name ?? req.body.id ?? claim.type,
              department: claim.department,
              type: claim.type,
              district: claim.district,
              lat: claim.lat,
              lon: claim.lon,
            },
            claim.department,
          );
        } catch (err) {
          // The code stays usable when the device could not be created (an id already taken).
          await deps.claims.release(req.body.code);
          throw err;
        }
        const { device, secret } = created;
        await deps.claims.bind(req.body.code, device.id);
        const bundle = provisioningBundle(device, credentialsFor(device, secret), urls, caCertificate(deps));
        const format = (req.query as { format?: string }).format;
        const accept = req.headers.accept ?? '';
        if (format === 'png' || accept.includes('image/png')) {
          const png = await QRCode.toBuffer(JSON.stringify(bundle), { type: 'png', errorCorrectionLevel: 'M' });
          return sendRaw(reply, 201, 'image/png', png);
        }
        if (format === 'svg' || accept.includes('image/svg+xml')) {
          const svg = await QRCode.toString(JSON.stringify(bundle), { type: 'svg', errorCorrectionLevel: 'M' });
          return sendRaw(reply, 201, 'image/svg+xml', svg);
        }
        return reply.code(201).send(bundle);
      },
    );
  };
