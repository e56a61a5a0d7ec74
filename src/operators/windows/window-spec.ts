import { ConfigError } from '../../core/errors.ts';
import { toMillis, type Duration } from '../../core/duration.ts';
import type { Batch } from '../../core/batch.ts';

/**
 * The shape of a window, separate from the clock: which windows an event time belongs to.
 * Windows are aligned to the epoch (shifted per key by its phase when staggered), so [start, end)
 * boundaries are the same on every process and in backfills.
 */
export interface WindowSpec {
  readonly kind: 'tumbling' | 'hopping';
  readonly sizeMs: number;
  readonly hopMs: number;
  /** How long after its end a window still accepts records before its first emission (event time). */
  readonly graceMs: number;
  /** After end + grace, how much longer records still update the window and re-emit it. */
  readonly allowedLatenessMs: number;
  /** 'final': emit when the window closes (then once per late update); 'current': on every change. */
  readonly emit: EmitMode;
  /** 0: aligned. Else each key's windows start at its phase (window-stagger.ts), a multiple of this below the hop. */
  readonly staggerMs: number;
  /** Default step name for the aggregate that follows, e.g. 'tumbling-60000ms'. */
  readonly name: string;
}

/** A batch whose records are assigned to windows of `window` by the aggregate that follows. */
export interface WindowedBatch<T> extends Batch<T> {
  window: WindowSpec;
}

/**
 * When a window's rows are emitted. 'final': once when the watermark passes end + grace
 * (revision 0), then again for each batch that updates it within the allowed lateness.
 * 'current': in every batch that changes it, revisions 0, 1, 2, ... per key and window.
 */
export type EmitMode = 'final' | 'current';

export interface WindowOptions {
  /** Time after the window end during which late records still update it. Default 0. */
  grace?: Duration;
  /** Default 'final'. */
  emit?: EmitMode;
  /**
   * Time after end + grace during which records still update the window, each update re-emitting
   * it with the next revision; past it records are late. Default 0.
   *
   * @example tumbling('1m', { grace: '10s', allowedLateness: '5m' })
   */
  allowedLateness?: Duration;
  /**
   * Spread the keys' windows over the hop in steps of this: each key's windows are shifted by a
   * phase from a hash of the key (0, step, 2 x step, ... below the hop), so their closes spread
   * over the hop instead of all falling on one watermark. A row's windowStart and windowEnd are
   * its key's own. Default 0: every key's windows aligned to the epoch.
   *
   * @example tumbling('1m', { grace: '10s', stagger: '1s' }) // 60 phases: about 1/60 of the keys close each second
   */
  stagger?: Duration;
}

export function makeWindowSpec(kind: WindowSpec['kind'], size: Duration, hop: Duration, options: WindowOptions): WindowSpec {
  const sizeMs = toMillis(size, `${kind}.size`);
  const hopMs = toMillis(hop, `${kind}.hop`);
  const graceMs = toMillis(options.grace ?? 0, `${kind}.grace`);
  const allowedLatenessMs = toMillis(options.allowedLateness ?? 0, `${kind}.allowedLateness`);
  const staggerMs = toMillis(options.stagger ?? 0, `${kind}.stagger`);
  const emit = options.emit ?? 'final';
  if (emit !== 'final' && emit !== 'current') throw new ConfigError(`${kind}.emit`, `"${String(emit)}" is not an emit mode`, "use 'final' or 'current'");
  if (sizeMs <= 0) throw new ConfigError(`${kind}.size`, 'the window size must be positive', "use e.g. '1m'");
  if (hopMs <= 0 || hopMs > sizeMs) throw new ConfigError(`${kind}.hop`, `hop ${hopMs} ms must be positive and at most the size ${sizeMs} ms`, 'choose a hop that divides the size, e.g. 5m windows every 1m');
  if (sizeMs % hopMs !== 0) throw new ConfigError(`${kind}.hop`, `size ${sizeMs} ms is not a multiple of hop ${hopMs} ms`, 'choose a hop that divides the size');
  if (staggerMs < 0 || staggerMs >= hopMs || (staggerMs > 0 && hopMs % staggerMs !== 0)) {
    throw new ConfigError(`${kind}.stagger`, `stagger ${staggerMs} ms must be 0 or a divisor of the hop ${hopMs} ms below it`, "use e.g. '1s' for 1-minute windows (60 phases), or leave it out for aligned windows");
  }
  const aligned = kind === 'tumbling' ? `tumbling-${sizeMs}ms` : `hopping-${sizeMs}ms-every-${hopMs}ms`;
  const name = staggerMs === 0 ? aligned : `${aligned}-stagger-${staggerMs}ms`;
  return { kind, sizeMs, hopMs, graceMs, allowedLatenessMs, emit, staggerMs, name };
}

/** Start of the slice (hop-long piece of event time) holding `eventTime` for a key of `phase` (0 when aligned). */
export function sliceStart(spec: WindowSpec, eventTime: number, phase: number): number {
  return Math.floor((eventTime - phase) / spec.hopMs) * spec.hopMs + phase;
}

/** End (exclusive) of the latest window containing `eventTime`, for a key of `phase` (0 when aligned). */
export function lastWindowEnd(spec: WindowSpec, eventTime: number, phase = 0): number {
  return sliceStart(spec, eventTime, phase) + spec.sizeMs;
}

/** How many windows contain each event: 1 for tumbling, size/hop for hopping. */
export function windowsPerEvent(spec: WindowSpec): number {
  return spec.sizeMs / spec.hopMs;
}
