import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Structured JSON logs (the CLI passes LOG_LEVEL; library callers choose their level, default info). */
export function createLogger(name = 'tributary', level = 'info'): Logger {
  return pino({ name, level });
}

export const silentLogger: Logger = pino({ level: 'silent' });
