import { describe, expect, it } from 'vitest';
import { mqttUrls } from '../../../services/api/routes/provision.ts';
import { apiTarget } from '../../../services/cli/api-client.ts';
import { mqttUrlsFor } from '../../../services/cli/provisioning.ts';
import { loadConfig } from '../../../services/common/config.ts';

const tls = {
  SUS_MQTT_TLS_CERT: '/etc/sus/broker.crt',
  SUS_MQTT_TLS_KEY: '/etc/sus/broker.key',
  SUS_MQTTS_PORT: '8884',
};

describe('the MQTT URLs a bundle names, from sus device as from the API', () => {
  it('lists mqtts:// first when the broker has TLS, as the claim flow does', () => {
    const config = loadConfig({ SUS_MQTT_PORT: '1884', ...tls });
    const api = apiTarget(config, 'https://city.example:8443');
    expect(mqttUrlsFor(config, api)).toStrictEqual(['mqtts://city.example:8884', 'mqtt://city.example:1884']);
    expect(mqttUrls(config, 'city.example:8443')).toStrictEqual(mqttUrlsFor(config, api));
  });

  it('lists mqtt:// only without TLS; --mqtt-url and SUS_PUBLIC_MQTT_URL name the list as given', () => {
    const plain = loadConfig({ SUS_MQTT_PORT: '1884' });
    expect(mqttUrlsFor(plain, apiTarget(plain, 'http://10.0.0.5:8080'))).toStrictEqual(['mqtt://10.0.0.5:1884']);
    const published = loadConfig({
      SUS_PUBLIC_MQTT_URL: 'mqtts://mqtt.city.example:8883, mqtt://mqtt.city.example',
      ...tls,
    });
    const api = apiTarget(published, 'http://10.0.0.5:8080');
    expect(mqttUrlsFor(published, api)).toStrictEqual(['mqtts://mqtt.city.example:8883', 'mqtt://mqtt.city.example']);
    expect(mqttUrlsFor(published, api, 'mqtt://field.example:1883')).toStrictEqual(['mqtt://field.example:1883']);
  });
});
