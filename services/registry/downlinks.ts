import { z } from 'zod';
import { JsonObject } from '../common/grammar.ts';
import { type Db, storableText } from './db.ts';
import { LookupBatch } from './lookup-batch.ts';

/** A command as the registry keeps it; also what travels between nodes (the cluster's downlink queue). */
export const CommandSchema = z.object({
  id: z.number().int(),
  device: z.string(),
  name: z.string(),
  args: JsonObject,
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  ackedAt: z.string().nullable(),
  ackStatus: z.string().nullable(),
});
export type Command = z.infer<typeof CommandSchema>;

export const DesiredConfigSchema = z.object({
  device: z.string(),
  version: z.number().int(),
  config: JsonObject,
  updatedAt: z.string(),
  ackedVersion: z.number().int().nullable(),
  ackedAt: z.string().nullable(),
});
export type DesiredConfig = z.infer<typeof DesiredConfigSchema>;

export interface DeviceAck {
  id: number;
  device: string;
  topic: string;
  receivedAt: string;
  command: number | null;
  configVersion: number | null;
  status: string | null;
  payload: string;
}

/** What a device may say on `…/ack`: which command or config version it answers, and how it went. */
// Bounded by their columns (bigint command ids, integer versions): a larger number is no id of ours.
export const AckMessageSchema = z.object({
  command: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  config: z
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .optional(),
  status: z.string().max(64).optional(),
});

interface CommandRow {
  id: number;
  device_id: string;
  name: string;
  args: Record<string, unknown>;
  created_at: Date;
  created_by: string | null;
  acked_at: Date | null;
  ack_status: string | null;
}
interface ConfigRow {
  device_id: string;
  version: number;
  config: Record<string, unknown>;
  updated_at: Date;
  acked_version: number | null;
  acked_at: Date | null;
}
interface AckRow {
  id: number;
  device_id: string;
  topic: string;
  received_at: Date;
  command_id: number | null;
  config_version: number | null;
  status: string | null;
  payload: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toCommand = (r: CommandRow): Command => ({
  id: r.id,
  device: r.device_id,
  name: r.name,
  args: r.args,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  ackedAt: iso(r.acked_at),
  ackStatus: r.ack_status,
});
const toConfig = (r: ConfigRow): DesiredConfig => ({
  device: r.device_id,
  version: r.version,
  config: r.config,
  updatedAt: r.updated_at.toISOString(),
  ackedVersion: r.acked_version,
  ackedAt: iso(r.acked_at),
});
const toAck = (r: AckRow): DeviceAck => ({
  id: r.id,
  device: r.device_id,
  topic: r.topic,
  receivedAt: r.received_at.toISOString(),
  command: r.command_id,
  configVersion: r.config_version,
  status: r.status,
  payload: r.payload,
});

const COMMAND_COLUMNS = 'id, device_id, name, args, created_at, created_by, acked_at, ack_status';
const CONFIG_COLUMNS = 'device_id, version, config, updated_at, acked_version, acked_at';
const ACK_COLUMNS = 'id, device_id, topic, received_at, command_id, config_version, status, payload';
/** Acks are stored as text; a device cannot fill the registry with one huge answer. */
const ACK_MAX_CHARS = 4096;

/** Downlink state of the registry: commands sent, desired configuration per device, and the devices' answers. */
export class DownlinkStore {
  /** Desired configurations looked up on reconnect: the devices of a reconnect storm share one query, not one each. */
  private readonly desired = new LookupBatch<string, ConfigRow>(async (ids) => {
    const rows = await this.db.query<ConfigRow>(
      `SELECT ${CONFIG_COLUMNS} FROM device_desired_config WHERE device_id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.device_id, r]));
  });

  constructor(private readonly db: Db) {}

  async addCommand(c: {
    device: string;
    name: string;
    args: Record<string, unknown>;
    createdBy: string | null;
  }): Promise<Command> {
    const [r] = await this.db.query<CommandRow>(
      `INSERT INTO device_commands (device_id, name, args, created_by) VALUES ($1, $2, $3, $4) RETURNING ${COMMAND_COLUMNS}`,
      [c.device, c.name, JSON.stringify(c.args), c.createdBy],
    );
    return toCommand(r!);
  }

  async listCommands(device: string, limit: number): Promise<Command[]> {
    const rows = await this.db.query<CommandRow>(
      `SELECT ${COMMAND_COLUMNS} FROM device_commands WHERE device_id = $1 ORDER BY id DESC LIMIT $2`,
      [device, limit],
    );
    return rows.map(toCommand);
  }

  /** Stores a new version of the device's desired configuration (version counts up from 1). */
  async setDesiredConfig(device: string, config: Record<string, unknown>): Promise<DesiredConfig> {
    const [r] = await this.db.query<ConfigRow>(
      `INSERT INTO device_desired_config (device_id, version, config) VALUES ($1, 1, $2)
       ON CONFLICT (device_id) DO UPDATE SET version = device_desired_config.version + 1, config = EXCLUDED.config,
         updated_at = now()
       RETURNING ${CONFIG_COLUMNS}`,
      [device, JSON.stringify(config)],
    );
    return toConfig(r!);
  }

  async getDesiredConfig(device: string): Promise<DesiredConfig | undefined> {
    const r = await this.desired.load(device);
    return r && toConfig(r);
  }

  /**
   * Records a device's answer. Only commands and config versions of that same device are marked acknowledged, so
   * a device cannot acknowledge another device's command.
   */
  async recordAck(device: string, topic: string, payload: Buffer): Promise<DeviceAck> {
    // A device's bytes as text the registry can store: an ack it cannot record would be refused (no PUBACK) forever.
    const text = storableText(payload.toString('utf8').slice(0, ACK_MAX_CHARS));
    let parsed: z.infer<typeof AckMessageSchema> = {};
    try {
      const result = AckMessageSchema.safeParse(JSON.parse(text));
      if (result.success) parsed = result.data;
    } catch {
      // Not JSON: kept verbatim, linked to nothing.
    }
    const status = parsed.status === undefined ? null : storableText(parsed.status);
    const [r] = await this.db.query<AckRow>(
      `INSERT INTO device_acks (device_id, topic, command_id, config_version, status, payload)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${ACK_COLUMNS}`,
      [device, topic, parsed.command ?? null, parsed.config ?? null, status, text],
    );
    if (parsed.command !== undefined) {
      await this.db.query(
        'UPDATE device_commands SET acked_at = now(), ack_status = $3 WHERE id = $1 AND device_id = $2',
        [parsed.command, device, status],
      );
    }
    if (parsed.config !== undefined) {
      await this.db.query(
        `UPDATE device_desired_config SET acked_version = $2, acked_at = now()
         WHERE device_id = $1 AND $2 <= version AND (acked_version IS NULL OR acked_version < $2)`,
        [device, parsed.config],
      );
    }
    return toAck(r!);
  }

  async listAcks(device: string, limit: number): Promise<DeviceAck[]> {
    const rows = await this.db.query<AckRow>(
      `SELECT ${ACK_COLUMNS} FROM device_acks WHERE device_id = $1 ORDER BY id DESC LIMIT $2`,
      [device, limit],
    );
    return rows.map(toAck);
  }
}
