/**
 * The one place loggers are made. JSON lines through pino; the level comes from the option, then
 * `LOG_LEVEL`, then `info`. Hot paths check `isLevelEnabled` before building anything to log.
 */
import type { DestinationStream, Logger } from 'pino';
import { pinoModule } from '../deps/lazy.js';
import { resolveString } from '../options/resolve.js';
import { PROCESS_OPTIONS } from '../options/table.js';

export type { Logger };

export { DEFAULT_LOG_LEVEL } from '../options/table.js';

/** `destination` receives each JSON line (default: stdout). */
export function createLogger(name: string, level?: string, destination?: DestinationStream): Logger {
  const options = { name, level: resolveString(PROCESS_OPTIONS.logLevel, level)! };
  const { pino } = pinoModule();
  return destination === undefined ? pino(options) : pino(options, destination);
}
