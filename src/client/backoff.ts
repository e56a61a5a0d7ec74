/** Reconnect delays: exponential, capped, with jitter so many clients do not reconnect in step. */
export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialDelayMs?: number;
  /** Largest delay. Default 10,000 ms. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay randomised either way (0.2: ±20%). Default 0.2. */
  jitter?: number;
}

/** Delay before reconnect attempt `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialDelayMs = 500, maxDelayMs = 10_000, factor = 2, jitter = 0.2 } = options;
  const base = Math.min(maxDelayMs, initialDelayMs * factor ** attempt);
  return Math.max(0, Math.round(base * (1 - jitter + 2 * jitter * random())));
}
