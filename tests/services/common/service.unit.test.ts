import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type Service, ServiceGroup } from '../../../services/common/service.ts';

/** A service that records its start and stop in `log`; `fail` makes that step throw. */
function recorded(name: string, log: string[], fail: { start?: boolean; stop?: boolean } = {}): Service {
  return {
    async start() {
      if (fail.start) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
    },
    async stop() {
      if (fail.stop) throw new Error(`${name} cannot stop`);
      log.push(`stop ${name}`);
    },
  };
}

describe('ServiceGroup', () => {
  it('starts parts in order and stops them in reverse, adopted resources in their place', async () => {
    const log: string[] = [];
    const group = new ServiceGroup(pino({ level: 'silent' }));
    group.adopt(async () => {
      log.push('release lock');
    });
    await group.start(recorded('ingest', log));
    await group.start(recorded('broker', log));
    await group.start(recorded('api', log));
    await group.stop();
    expect(log).toStrictEqual([
      'start ingest',
      'start broker',
      'start api',
      'stop api',
      'stop broker',
      'stop ingest',
      'release lock',
    ]);
  });

  it('does not stop a part whose start failed, and a failed stop does not keep the others running', async () => {
    const log: string[] = [];
    const errors: string[] = [];
    const group = new ServiceGroup(
      pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line).err) }),
    );
    await group.start(recorded('ingest', log));
    await group.start(recorded('broker', log, { stop: true }));
    await expect(group.start(recorded('api', log, { start: true }))).rejects.toThrow('api cannot start');
    await group.stop();
    expect(log).toStrictEqual(['start ingest', 'start broker', 'stop ingest']);
    expect(errors).toStrictEqual(['broker cannot stop']);
    await group.stop();
    expect(log).toHaveLength(3);
  });
});
