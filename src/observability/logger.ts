import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Structured JSON logs; LOG_LEVEL sets the level (default info, 'silent' in tests). */
export function createLogger(name = 'tributary', level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level });
}

export const silentLogger: Logger = pino({ level: 'silent' });
