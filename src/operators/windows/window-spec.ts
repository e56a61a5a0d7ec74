import { ConfigError } from '../../core/errors.ts';
import { toMillis, type Duration } from '../../core/duration.ts';
import type { Batch } from '../../core/batch.ts';

/**
 * The shape of a window, separate from the clock: which windows an event time belongs to.
 * Windows are aligned to the epoch, so [start, end) boundaries are the same on every process and
 * in backfills.
 */
export interface WindowSpec {
  readonly kind: 'tumbling' | 'hopping';
  readonly sizeMs: number;
  readonly hopMs: number;
  /** How long after its end a window still accepts records (event time). */
  readonly graceMs: number;
  /** Default step name for the aggregate that follows, e.g. 'tumbling-60000ms'. */
  readonly name: string;
}

/** A batch whose records are assigned to windows of `window` by the aggregate that follows. */
export interface WindowedBatch<T> extends Batch<T> {
  window: WindowSpec;
}

export interface WindowOptions {
  /** Time after the window end during which late records still update it. Default 0. */
  grace?: Duration;
}

export function makeWindowSpec(kind: WindowSpec['kind'], size: Duration, hop: Duration, options: WindowOptions): WindowSpec {
  const sizeMs = toMillis(size, `${kind}.size`);
  const hopMs = toMillis(hop, `${kind}.hop`);
  const graceMs = toMillis(options.grace ?? 0, `${kind}.grace`);
  if (sizeMs <= 0) throw new ConfigError(`${kind}.size`, 'the window size must be positive', "use e.g. '1m'");
  if (hopMs <= 0 || hopMs > sizeMs) throw new ConfigError(`${kind}.hop`, `hop ${hopMs} ms must be positive and at most the size ${sizeMs} ms`, 'choose a hop that divides the size, e.g. 5m windows every 1m');
  if (sizeMs % hopMs !== 0) throw new ConfigError(`${kind}.hop`, `size ${sizeMs} ms is not a multiple of hop ${hopMs} ms`, 'choose a hop that divides the size');
  const name = kind === 'tumbling' ? `tumbling-${sizeMs}ms` : `hopping-${sizeMs}ms-every-${hopMs}ms`;
  return { kind, sizeMs, hopMs, graceMs, name };
}

/** End (exclusive) of the latest window containing `eventTime`. */
export function lastWindowEnd(spec: WindowSpec, eventTime: number): number {
  return Math.floor(eventTime / spec.hopMs) * spec.hopMs + spec.sizeMs;
}

/** How many windows contain each event: 1 for tumbling, size/hop for hopping. */
export function windowsPerEvent(spec: WindowSpec): number {
  return spec.sizeMs / spec.hopMs;
}
