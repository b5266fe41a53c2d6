import { parseArgs } from 'node:util';
import type { FleetSimulator } from '../../devices/simulator/index.ts';
import { type Config, ConfigError, loadConfig } from '../common/config.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { keysCommand } from './keys.ts';
import { withRegistry } from './open-registry.ts';
import { startPlatform } from './platform.ts';
import { RULES_HELP, rulesCommand } from './rules.ts';
import { SIMULATE_HELP } from './simulate-help.ts';

const HELP = `sus — Smart Urban Services platform

Usage: sus <command> [options]

Commands:
  run [--demo]       broker + ingest + API in one process (--demo: seed the demo city and run its fleet)
  broker             layer 1 + 2: the MQTT broker with in-process ingest
  ingest             layer 2 alone: ingest as an MQTT client of the city's broker (SUS_INGEST_MQTT_URL; MQTT 5
                     shared subscriptions spread the messages over several ingest nodes)
  api                layer 3: the REST API
${SIMULATE_HELP}
  device …           field provisioning: add | claim-code | bundle | check (sus device help)
  migrate            bring the registry schema up to date and exit
  keys …             API keys: create | list | revoke (sus keys help)
${RULES_HELP}
  decode --format F [--device ID] [--profile FILE]
                     decode one payload from stdin and print its normalised readings (F: canonical, senml,
                     senml-cbor, ttn, chirpstack, sensor-community); exit 2 with reason codes on rejection
  help               this text

Configuration comes from environment variables (see docs/configuration.md).`;

function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('second signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down (pending batches are flushed)');
    stop().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function run(
  config: Config,
  log: Logger,
  parts: { broker?: boolean; api?: boolean; ingest?: boolean },
  demo: boolean,
): Promise<void> {
  const platform = await startPlatform(config, log, parts);
  let sim: FleetSimulator | undefined;
  onShutdown(log, async () => {
    await sim?.stop();
    await platform.stop();
  });
  if (platform.generatedAdminKey) {
    process.stderr.write(
      `\nBootstrap admin API key (shown once, stored only as a hash):\n\n  ${platform.generatedAdminKey}\n\n` +
        'Use it as "Authorization: Bearer <key>", or set SUS_ADMIN_KEY to choose your own. It is generated on the\n' +
        'first start only: once revoked, it is not replaced (mint another with `sus keys create --scopes admin`).\n\n',
    );
  }
  if (demo && platform.mqttPort !== undefined) {
    const { startDemoFleet } = await import('./demo.ts');
    sim = await startDemoFleet(platform.registry, {
      mqttPort: platform.mqttPort,
      count: config.SUS_DEMO_DEVICES,
      intervalMs: config.SUS_DEMO_INTERVAL_MS,
      log: log.child({ component: 'demo-fleet' }),
    });
  }
  const where = [
    platform.httpPort !== undefined && `API http://localhost:${platform.httpPort} (docs: /docs)`,
    platform.mqttPort !== undefined && `MQTT mqtt://localhost:${platform.mqttPort}`,
    platform.source && `ingest from ${platform.source.url} as ${platform.source.clientId}`,
  ].filter(Boolean);
  log.info(`SUS platform up: ${where.join(' · ')}`);
}

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sus: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL, 'sus', config.SUS_LOG_JSON === '1');
  switch (command) {
    case 'run': {
      const { values } = parseArgs({ args: rest, options: { demo: { type: 'boolean', default: false } } });
      await run(config, log, { broker: true, api: true }, values.demo ?? false);
      return -1;
    }
    case 'broker':
      await run(config, log, { broker: true, api: false }, false);
      return -1;
    case 'api':
      await run(config, log, { broker: false, api: true }, false);
      return -1;
    case 'ingest':
      await run(config, log, { ingest: true }, false);
      return -1;
    // The simulator, the decoder and the QR-code renderer are loaded by the commands that use them: a `sus broker`
    // node holding 10,000 devices keeps no module it never runs (issue 17).
    case 'simulate': {
      const { simulateCommand } = await import('./simulate.ts');
      await simulateCommand(config, log, rest, onShutdown);
      return -1;
    }
    case 'decode': {
      const { runDecode } = await import('./decode.ts');
      return runDecode(rest, config, {
        stdin: process.stdin,
        out: (t) => process.stdout.write(t),
        err: (t) => process.stderr.write(t),
      });
    }
    case 'device': {
      const { deviceCommand } = await import('./device.ts');
      return deviceCommand(config, rest);
    }
    case 'rules':
      return rulesCommand(config, rest, (t) => process.stdout.write(t));
    case 'keys':
      return keysCommand(config, rest, (t) => process.stdout.write(t));
    case 'migrate': {
      const kind = await withRegistry(config, 'sus migrate', async (registry) => registry.kind);
      process.stdout.write(`registry schema is up to date (${kind})\n`);
      return 0;
    }
    default:
      process.stderr.write(`sus: unknown command '${command}'\n\n${HELP}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // -1: a long-running command; the process lives on until a signal stops it.
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`sus: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
