import type { Logger } from '../common/logger.ts';
import { deviceTopic } from '../common/topics.ts';
import type { Command, DesiredConfig } from '../registry/index.ts';
import { commandMessage, configMessage } from './downlink-messages.ts';

/** Publishes QoS 1 through the broker (and, in cluster mode, every node). */
export type Publisher = (topic: string, payload: Buffer, retain: boolean) => Promise<void>;

/** Where the desired configuration of a device is kept. */
export interface DesiredConfigStore {
  getDesiredConfig(device: string): Promise<DesiredConfig | undefined>;
}

/** The platform's messages to devices: commands, and the desired configuration (again on every reconnect). */
export class Downlink {
  constructor(
    private readonly publish: Publisher,
    private readonly store: DesiredConfigStore | undefined,
    private readonly log: Logger,
  ) {}

  async command(c: Command): Promise<void> {
    await this.publish(deviceTopic.down(c.device, 'command'), commandMessage(c), false);
  }

  /** Retained, so a device that subscribes later (after a reconnect) still receives the current version. */
  async config(c: DesiredConfig): Promise<void> {
    await this.publish(deviceTopic.down(c.device, 'config'), configMessage(c), true);
  }

  /** A device that was offline when its configuration changed gets the current version when it comes back. */
  async deliverDesiredConfig(device: string): Promise<void> {
    const store = this.store;
    if (!store) return;
    try {
      const desired = await store.getDesiredConfig(device);
      if (desired && desired.ackedVersion !== desired.version) await this.config(desired);
    } catch (err) {
      this.log.warn({ device, err: (err as Error).message }, 'desired config delivery failed');
    }
  }
}
