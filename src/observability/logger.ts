import { pino, stdSerializers, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import { redactUrlPasswords } from './redact.ts';

export type Logger = PinoLogger;

/**
 * Fields that hold secrets wherever they appear in a log line's object, up to three levels deep
 * (a kafkajs log entry's `sasl.password`, a request's `headers.authorization`): printed as
 * [redacted]. The code never logs them on purpose; this is the net under that rule.
 */
const SECRET_FIELDS = ['password', 'passphrase', 'secret', 'token', 'accessToken', 'authorization', 'cookie', 'privateKey', 'key_password'];
const KEY_MATERIAL = ['ssl.key', 'tls.key', 'sasl'];
export const REDACTED_PATHS = [...SECRET_FIELDS, ...KEY_MATERIAL].flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

const scrubString = (value: unknown) => (typeof value === 'string' ? redactUrlPasswords(value) : value);

const REDACTING_OPTIONS: LoggerOptions = {
  redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  // Passwords inside URLs (redis://user:pw@host) in messages, in top-level fields and in errors.
  hooks: {
    logMethod(args, method) {
      for (let i = 0; i < args.length; i++) (args as unknown[])[i] = scrubString(args[i]);
      method.apply(this, args);
    },
  },
  formatters: {
    log: (object) => {
      for (const [field, value] of Object.entries(object)) if (typeof value === 'string' && value.includes('@')) object[field] = redactUrlPasswords(value);
      return object;
    },
  },
  serializers: {
    // `err` is an Error in some lines and a message string in others.
    err: (error: unknown) => {
      if (!(error instanceof Error)) return scrubString(error);
      const serialized = stdSerializers.err(error);
      serialized.message = redactUrlPasswords(serialized.message ?? '');
      serialized.stack = redactUrlPasswords(serialized.stack ?? '');
      return serialized;
    },
  },
};

/**
 * Structured JSON logs, secrets redacted (REDACTED_PATHS, URL passwords). The CLI passes
 * LOG_LEVEL; library callers choose their level (default info). `destination`: e.g.
 * pino.destination(2) for commands whose stdout is their output.
 */
export function createLogger(name = 'tributary', level = 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = { name, level, ...REDACTING_OPTIONS };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export const silentLogger: Logger = pino({ level: 'silent' });
