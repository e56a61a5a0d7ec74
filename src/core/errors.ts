/**
 * Every error Tributary throws extends TributaryError. `retriable` tells the runtime whether the
 * same operation may succeed if tried again (a broker restarting) or never will (bad config).
 */
export class TributaryError extends Error {
  readonly retriable: boolean;
  readonly code: string;

  constructor(message: string, options: { retriable?: boolean; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    this.code = options.code ?? 'TRIBUTARY_ERROR';
  }
}

/** A setting is missing or invalid. Names the field and the fix; never retriable. */
export class ConfigError extends TributaryError {
  readonly field: string;
  constructor(field: string, problem: string, fix: string) {
    super(`Invalid configuration "${field}": ${problem}. Fix: ${fix}`, { retriable: false, code: 'CONFIG' });
    this.field = field;
  }
}

/** A record's bytes could not be turned into a value. The record goes to the dead-letter destination. */
export class DecodeError extends TributaryError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { retriable: false, code: options.code ?? 'DECODE', cause: options.cause });
  }
}

/** A service (Kafka, ClickHouse, Redis) could not be reached or answered with a transient failure. */
export class ConnectionError extends TributaryError {
  readonly service: string;
  constructor(service: string, message: string, cause?: unknown) {
    super(`${service}: ${message}`, { retriable: true, code: 'CONNECTION', cause });
    this.service = service;
  }
}

/** A sink rejected a write. Retriable unless the rows themselves are invalid. */
export class SinkError extends TributaryError {
  readonly sink: string;
  constructor(sink: string, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(`sink ${sink}: ${message}`, { retriable: options.retriable, code: 'SINK', cause: options.cause });
    this.sink = sink;
  }
}

/** The model could not score a batch. */
export class ScoringError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: true, code: 'SCORING', cause });
  }
}

/** A stateful step reached a bound that keeps memory in check (open windows). Not retriable: the same input hits it again. */
export class StateLimitError extends TributaryError {
  readonly step: string;
  constructor(step: string, message: string) {
    super(`step ${step}: ${message}`, { retriable: false, code: 'STATE_LIMIT' });
    this.step = step;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
