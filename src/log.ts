/**
 * The daemon's logger: JSON lines on stdout for journald, pretty on a terminal. Secrets are
 * redacted by path as a second line of defence; the first is never passing them to a logger.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'key',
  '*.key',
  'params.password',
  'params.token',
  'connection.key',
];

/** Creates the root logger. Components get named children of it; library code never makes one. */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (!pretty) return pino(options);

  return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
}
