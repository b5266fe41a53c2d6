import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** The process logger; `json` (SUS_LOG_JSON=1) asks for JSON lines even on a terminal. */
export function createLogger(level: string, name = 'sus', json = false): Logger {
  // Pretty output only for a human at a terminal; JSON lines everywhere else (files, journald, CI).
  const pretty = process.stdout.isTTY && !json;
  return pino({
    name,
    level,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } } : {}),
  });
}

export const silentLogger: Logger = pino({ level: 'silent' });
