import type { Config } from '../common/config.ts';
import { SCOPES, type Scope } from '../registry/index.ts';
import { withRegistry } from './open-registry.ts';
import { subcommandArgs } from './subcommand-args.ts';

export const KEYS_HELP = `  keys create --name N --scopes read,provision [--department D]
                     create an API key (printed once; no --department = platform-wide)
  keys list [--department D]
                     list keys (never their secrets)
  keys revoke ID     revoke a key (API replicas drop cached lookups within 10 s)`;

/**
 * `sus keys`: talks to the registry directly, not to the API, so an operator can mint the first keys before any
 * API runs and without holding a key already (same trust as `sus migrate`: access to the database).
 */
export async function keysCommand(config: Config, args: string[], out: (s: string) => void): Promise<number> {
  const { sub, values, positionals } = subcommandArgs(
    args,
    {
      name: { type: 'string' },
      department: { type: 'string' },
      scopes: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    KEYS_HELP,
  );
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    out(`usage:\n${KEYS_HELP}\n`);
    return 2;
  }
  const scopes = (values.scopes ?? '').split(',').filter(Boolean);
  if (sub === 'create') {
    const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (!values.name || scopes.length === 0 || bad.length > 0) {
      out(
        `sus keys create needs --name and --scopes (one or more of ${SCOPES.join(', ')})${bad.length ? `; unknown: ${bad.join(', ')}` : ''}\n`,
      );
      return 2;
    }
  }
  if (sub === 'revoke' && positionals.length !== 1) {
    out('sus keys revoke needs the key id (see sus keys list)\n');
    return 2;
  }
  return withRegistry(config, `sus keys ${sub}`, async (registry) => {
    const { keys } = registry;
    if (sub === 'create') {
      const { key, record } = await keys.create({
        name: values.name!,
        department: values.department ?? null,
        scopes: scopes as Scope[],
      });
      out(
        values.json
          ? `${JSON.stringify({ key, record })}\n`
          : `${record.id} created (${record.department ?? 'platform-wide'}; ${record.scopes.join(', ')}). Key, shown once:\n\n  ${key}\n\n`,
      );
    } else if (sub === 'list') {
      const list = await keys.list(values.department);
      if (values.json) out(`${JSON.stringify(list)}\n`);
      else
        for (const k of list)
          out(
            `${k.id}\t${k.name}\t${k.department ?? '(platform)'}\t${k.scopes.join(',')}\t${k.revokedAt ? `revoked ${k.revokedAt}` : 'active'}\n`,
          );
    } else {
      const k = await keys.revoke(positionals[0]!);
      out(values.json ? `${JSON.stringify(k)}\n` : `${k.id} revoked at ${k.revokedAt}\n`);
    }
    return 0;
  });
}
