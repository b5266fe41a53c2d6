import type { Ingestor } from '../../services/ingest/ingestor.ts';

/**
 * The benches' load on the ingest path without a broker: `payloads[i]` through `Ingestor.handle` as device
 * `devices[i % devices.length]` over MQTT, `inFlight` at a time (each finished message starts the next). `sent`, if
 * given, is called just before each message (what alert latency is timed from). Resolves when all are handled.
 */
export function driveIngest(
  ingestor: Pick<Ingestor, 'handle'>,
  devices: readonly string[],
  payloads: readonly Buffer[],
  inFlight: number,
  sent?: (i: number) => void,
): Promise<void> {
  const n = payloads.length;
  let next = 0;
  let outstanding = 0;
  return new Promise<void>((resolve) => {
    const one = () => {
      const i = next++;
      if (i >= n) {
        if (outstanding === 0) resolve();
        return;
      }
      outstanding++;
      const device = devices[i % devices.length]!;
      sent?.(i);
      void ingestor
        .handle({
          device,
          topic: `sus/v1/devices/${device}/up`,
          channel: 'up',
          payload: payloads[i]!,
          receivedAt: Date.now(),
          source: 'mqtt',
        })
        .then(() => {
          outstanding--;
          one();
        });
    };
    for (let k = 0; k < inFlight; k++) one();
  });
}
