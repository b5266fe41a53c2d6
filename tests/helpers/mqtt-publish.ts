import net from 'node:net';
import { type IClientOptions, MqttClient } from 'mqtt';

/** QoS 1 publish that settles when the PUBACK arrives or the broker closes the connection (mqtt.js would wait). */
export function publishAcked(
  c: MqttClient,
  topic: string,
  payload: Buffer | string,
  opts: { retain?: boolean } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('the broker closed the connection before the PUBACK'));
    c.once('close', onClose);
    c.publish(topic, payload, { qos: 1, retain: opts.retain ?? false }, (err) => {
      c.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * An mqtt.js client whose TCP connection leaves from `localAddress` (any 127.x.y.z on Linux): the broker sees
 * another source address, as it would a device elsewhere. Resolves on CONNACK, rejects on a refusal or a close.
 */
export function connectFrom(port: number, localAddress: string, opts: IClientOptions): Promise<MqttClient> {
  const client = new MqttClient(() => net.connect({ host: '127.0.0.1', port, localAddress }), {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...opts,
  });
  // Every publishAcked in flight listens for 'close'.
  client.setMaxListeners(0);
  return new Promise((resolve, reject) => {
    const fail = (err?: Error) => {
      client.end(true);
      reject(err ?? new Error('closed before CONNACK'));
    };
    client.once('connect', () => {
      client.off('error', fail);
      client.off('close', fail);
      // Later errors (a keepalive timeout, a refused reconnect) show as closes and failed publishes.
      client.on('error', () => {});
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', fail);
  });
}
