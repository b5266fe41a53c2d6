import type { Logger } from './logger.ts';

/**
 * What the composition root starts and stops. The constructor takes dependencies only; `start()` opens listeners,
 * timers and files and resolves once the part serves; `stop()` releases them and resolves once they are released.
 */
export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The parts one process hosts, started one after the other and stopped in reverse order: a part is stopped only
 * after everything started after it (and so possibly using it) has stopped.
 */
export class ServiceGroup {
  private readonly started: Array<Pick<Service, 'stop'>> = [];

  constructor(private readonly log: Logger) {}

  /** Starts `service` after those started before it; a part whose start fails is not stopped (it never ran). */
  async start<S extends Service>(service: S): Promise<S> {
    await service.start();
    this.started.push(service);
    return service;
  }

  /** A part opened elsewhere (a lock, a connection) that is released in its place in the reverse order. */
  adopt(stop: () => Promise<void>): void {
    this.started.push({ stop });
  }

  /** Stops everything in reverse order; a part that fails to stop is logged and the rest still stop. */
  async stop(): Promise<void> {
    for (const service of this.started.splice(0).reverse()) {
      try {
        await service.stop();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'error during shutdown');
      }
    }
  }
}
