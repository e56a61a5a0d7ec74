import { toMillis, type Duration } from '../core/duration.ts';
import { ConfigError, TributaryError } from '../core/errors.ts';

/**
 * A circuit breaker for calls to a model (or any service called one operation at a time).
 *
 * - closed: every call goes through. `failureThreshold` consecutive failed calls open it; a call
 *   counts as failed when it rejects or when it takes longer than `latencyBudget` (its result is
 *   still returned: it was computed, just too slowly). A call within budget resets the count.
 * - open: calls are refused at once with a CircuitOpenError, without touching the model.
 * - half-open: the first call after `coolDown` is let through as the single probe; others are
 *   refused while it runs. A probe within budget closes the circuit (and resets the cool-down);
 *   a failed or slow probe opens it again with the cool-down doubled, up to `maxCoolDown`.
 *
 * No timers: open → half-open happens on the first call after the cool-down. The clock is
 * injectable (`now`, milliseconds, monotonic) so tests can step through time.
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failed (or over-budget) calls that open the circuit. A positive integer. */
  failureThreshold: number;
  /** A call slower than this counts as failed. Default: no budget. */
  latencyBudget?: Duration;
  /** How long the circuit stays open before it lets one probe through. */
  coolDown: Duration;
  /** Ceiling of the cool-down, which doubles after each failed probe. Default 16 × coolDown. */
  maxCoolDown?: Duration;
  /** Clock in milliseconds. Default performance.now(). For tests. */
  now?: () => number;
}

export interface CircuitBreakerHooks {
  /** Called on every transition, after the state changed. */
  onStateChange?: (change: { state: CircuitState; previous: CircuitState; failures: number; coolDownMs: number }) => void;
  /** Prefix of configuration error fields, e.g. 'fraud-score.breaker'. */
  field?: string;
}

/** What a call that is let through learns about itself. */
export interface CircuitPermit {
  /** True for the single call that probes a half-open circuit. */
  probe: boolean;
}

export const CIRCUIT_OPEN_REASON = 'scoring unavailable (circuit open)';

/** Thrown instead of calling the model while the circuit is open (or a probe is running). */
export class CircuitOpenError extends TributaryError {
  /** Milliseconds until the next probe may run (0 while a probe is running). */
  readonly retryInMs: number;
  constructor(retryInMs: number) {
    super(CIRCUIT_OPEN_REASON, { retriable: true, code: 'CIRCUIT_OPEN' });
    this.retryInMs = retryInMs;
  }
}

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly budgetMs: number;
  private readonly baseCoolDownMs: number;
  private readonly maxCoolDownMs: number;
  private readonly now: () => number;
  private readonly hooks: CircuitBreakerHooks;
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private coolDownMs: number;
  private openedAt = 0;
  /** Bumped on every transition: outcomes of calls admitted in an earlier state are ignored. */
  private epoch = 0;

  constructor(options: CircuitBreakerOptions, hooks: CircuitBreakerHooks = {}) {
    const field = hooks.field ?? 'breaker';
    const threshold = options.failureThreshold;
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new ConfigError(`${field}.failureThreshold`, `${threshold} is not a positive integer`, 'use e.g. 5 (consecutive failed micro-batches)');
    }
    this.threshold = threshold;
    this.budgetMs = options.latencyBudget === undefined ? Infinity : toMillis(options.latencyBudget, `${field}.latencyBudget`);
    if (this.budgetMs <= 0) throw new ConfigError(`${field}.latencyBudget`, 'must be more than 0', "use e.g. '250ms', or leave it out for no budget");
    this.baseCoolDownMs = toMillis(options.coolDown, `${field}.coolDown`);
    this.maxCoolDownMs = options.maxCoolDown === undefined ? this.baseCoolDownMs * 16 : toMillis(options.maxCoolDown, `${field}.maxCoolDown`);
    if (this.maxCoolDownMs < this.baseCoolDownMs) {
      throw new ConfigError(`${field}.maxCoolDown`, `${this.maxCoolDownMs} ms is shorter than coolDown (${this.baseCoolDownMs} ms)`, 'make it at least coolDown, or leave it out');
    }
    this.coolDownMs = this.baseCoolDownMs;
    this.now = options.now ?? (() => performance.now());
    this.hooks = hooks;
  }

  /** The current state. An open circuit turns half-open on the first call after its cool-down, not by itself. */
  get state(): CircuitState {
    return this.current;
  }

  /** Consecutive failed calls while closed. */
  get failures(): number {
    return this.consecutiveFailures;
  }

  /** Milliseconds until an open circuit lets a probe through; 0 when it would now (or is not open). */
  get retryInMs(): number {
    return this.current === 'open' ? Math.max(0, this.openedAt + this.coolDownMs - this.now()) : 0;
  }

  /**
   * Runs `operation` if the circuit allows it, timing it and recording the outcome; otherwise
   * rejects with a CircuitOpenError without calling it. The operation's result or error passes through.
   */
  async execute<R>(operation: (permit: CircuitPermit) => Promise<R>): Promise<R> {
    const permit = this.acquire();
    const epoch = this.epoch;
    const started = this.now();
    let result: R;
    try {
      result = await operation(permit);
    } catch (error) {
      this.record(epoch, false);
      throw error;
    }
    this.record(epoch, this.now() - started <= this.budgetMs);
    return result;
  }

  private acquire(): CircuitPermit {
    if (this.current === 'closed') return { probe: false };
    if (this.current === 'open') {
      const wait = this.retryInMs;
      if (wait > 0) throw new CircuitOpenError(wait);
      this.transition('half-open');
      return { probe: true };
    }
    throw new CircuitOpenError(0); // half-open: the probe is still running
  }

  private record(epoch: number, ok: boolean): void {
    if (epoch !== this.epoch) return;
    if (this.current === 'half-open') {
      if (ok) {
        this.consecutiveFailures = 0;
        this.coolDownMs = this.baseCoolDownMs;
        this.transition('closed');
      } else {
        this.coolDownMs = Math.min(this.maxCoolDownMs, this.coolDownMs * 2);
        this.open();
      }
      return;
    }
    if (this.current !== 'closed') return;
    if (ok) {
      this.consecutiveFailures = 0;
      return;
    }
    if (++this.consecutiveFailures >= this.threshold) this.open();
  }

  private open(): void {
    this.openedAt = this.now();
    this.transition('open');
  }

  private transition(state: CircuitState): void {
    const previous = this.current;
    this.current = state;
    this.epoch++;
    this.hooks.onStateChange?.({ state, previous, failures: this.consecutiveFailures, coolDownMs: this.coolDownMs });
  }
}
