/**
 * The flags of a `sus <command> <sub> …` line, parsed one way for every command: an unknown or ill-formed flag is
 * a `SUS_ERR_USAGE` that names it and shows the command's usage, never node:util's bare TypeError.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { SusError } from '../common/errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags of the commands that talk to a running platform's API (`sus device`, `sus rules`). */
export const API_CLIENT_OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies Options;

export function subcommandArgs<O extends Options>(args: readonly string[], options: O, help: string) {
  const [sub, ...rest] = args;
  try {
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options });
    return { sub, values, positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new SusError('SUS_ERR_USAGE', `${message}\nusage:\n${help}`, 400, { field: sub ?? '' });
  }
}
