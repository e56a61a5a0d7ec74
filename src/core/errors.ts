/**
 * Every error Tributary throws extends TributaryError (docs/errors.md lists every code).
 * `retriable` means one thing everywhere: the same operation, tried again unchanged a little
 * later, may succeed (a broker restarting, a full queue). It is false for everything that will
 * fail the same way again: bad configuration, a record that cannot be decoded, a bug in the
 * calling code, and an operation whose retries are already used up. Programmer errors (TypeError,
 * RangeError, ...) are never retried either, see isRetriable in retry.ts.
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

/**
 * A service (Kafka, ClickHouse, Redis) could not be reached or answered with a transient failure.
 * Retriable, unless it reports that the connection's own retries are used up (`retriesExhausted`).
 */
export class ConnectionError extends TributaryError {
  readonly service: string;
  constructor(service: string, message: string, cause?: unknown, options: { retriesExhausted?: boolean } = {}) {
    super(`${service}: ${message}`, { retriable: !options.retriesExhausted, code: 'CONNECTION', cause });
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

/**
 * Records a consumer had not read yet are no longer in the log (retention or deleteRecords moved
 * the log start past them, or the log was truncated below a position already read). Not
 * retriable: the records will not come back. The message names each partition, the offset range
 * and the count, and how to accept the gap.
 */
export class OffsetGapError extends TributaryError {
  constructor(message: string) {
    super(message, { retriable: false, code: 'OFFSET_GAP' });
  }
}

/** An operation was retried until its attempts ran out. Not retriable: the retries were the retry. */
export class RetriesExhaustedError extends TributaryError {
  readonly attempts: number;
  constructor(what: string, attempts: number, cause: unknown) {
    super(`${what} failed after ${attempts} attempt(s): ${errorMessage(cause)}`, { retriable: false, code: 'RETRIES_EXHAUSTED', cause });
    this.attempts = attempts;
  }
}

/** One record was rejected (by a user function, a key, a value that cannot be stored); it goes to the dead letters. */
export class RecordError extends TributaryError {
  constructor(message: string, code: string, cause?: unknown) {
    super(message, { retriable: false, code, cause });
  }
}

/**
 * Tributary was called in a way it does not support: a write after close, an ack token released
 * twice. A bug in the calling code; never retriable.
 */
export class UsageError extends TributaryError {
  constructor(message: string) {
    super(message, { retriable: false, code: 'USAGE' });
  }
}

/** What was thrown, as an Error: a thrown string or object becomes a TributaryError saying what it was. */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new TributaryError(`non-error thrown: ${errorMessage(thrown)}`, { code: 'NON_ERROR' });
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
