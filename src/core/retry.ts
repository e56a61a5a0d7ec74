import { RetriesExhaustedError, TributaryError } from './errors.ts';

export interface RetryOptions {
  /** What is being attempted, for log lines ("connect to ClickHouse at http://..."). */
  what: string;
  /** Attempts before giving up; Infinity retries until `signal` aborts. */
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each wait with the failure, so the caller can log it. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  signal?: AbortSignal;
}

/** Errors that mean a bug in the code, not a passing condition: retrying runs the same bug again. */
const PROGRAMMER_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/**
 * Whether an error is worth retrying. A TributaryError says so itself, and so do errors of
 * clients that carry a boolean `retriable` (KafkaJS); programmer errors never are; any other
 * error (a socket reset, a refused connection) is taken as passing.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof TributaryError) return error.retriable;
  if (PROGRAMMER_ERRORS.some((type) => error instanceof type)) return false;
  const flag = typeof error === 'object' && error !== null ? (error as { retriable?: unknown }).retriable : undefined;
  return typeof flag === 'boolean' ? flag : true;
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(maxMs, initialMs * 2^(n-1)), so retries of many writers spread out instead of colliding.
 */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Runs `operation` until it succeeds, waiting with exponential backoff and jitter between
 * attempts. Non-retriable errors are thrown at once, as they are; after the last attempt a
 * RetriesExhaustedError (not retriable, the last failure as its cause) names what was attempted
 * and how often.
 */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 8;
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetriable(error)) throw error;
      if (attempt >= maxAttempts || options.signal?.aborted) {
        throw new RetriesExhaustedError(options.what, attempt, error);
      }
      const delayMs = backoffDelayMs(attempt, initial, max);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
