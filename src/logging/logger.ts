/**
 * The one place loggers are made. JSON lines through pino; the level comes from the option, then
 * `LOG_LEVEL`, then `info`. Hot paths check `isLevelEnabled` before building anything to log.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const DEFAULT_LOG_LEVEL = 'info';

export function createLogger(name: string, level?: string): Logger {
  return pino({ name, level: level ?? process.env.LOG_LEVEL ?? DEFAULT_LOG_LEVEL });
}
