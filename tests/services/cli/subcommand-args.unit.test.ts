import { describe, expect, it } from 'vitest';
import { API_CLIENT_OPTIONS, subcommandArgs } from '../../../services/cli/subcommand-args.ts';
import { SusError } from '../../../services/common/errors.ts';

const HELP = '  things list [--json]';

describe('subcommandArgs: the flags of every `sus <command> <sub>` line', () => {
  it('splits the subcommand, its flags and its positionals', () => {
    const parsed = subcommandArgs(['rm', 'r-1', '--json', '--api', 'http://x'], API_CLIENT_OPTIONS, HELP);
    // parseArgs gives its values a null prototype; spread them to compare the flags alone.
    expect({ ...parsed, values: { ...parsed.values } }).toStrictEqual({
      sub: 'rm',
      values: { json: true, api: 'http://x' },
      positionals: ['r-1'],
    });
  });

  it('answers an unknown flag with SUS_ERR_USAGE naming the flag and showing the usage', () => {
    let caught: unknown;
    try {
      subcommandArgs(['list', '--jsn'], API_CLIENT_OPTIONS, HELP);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SusError);
    expect((caught as SusError).code).toBe('SUS_ERR_USAGE');
    expect((caught as SusError).message).toContain("'--jsn'");
    expect((caught as SusError).message).toContain(`usage:\n${HELP}`);
  });

  it('answers a string flag given without its value with SUS_ERR_USAGE naming the flag', () => {
    expect(() => subcommandArgs(['list', '--api'], API_CLIENT_OPTIONS, HELP)).toThrow(/--api/);
  });
});
