import type { StreamRecord } from '../core/batch.ts';
import type { Duration } from '../core/duration.ts';
import type { SinkSpec } from './sink.ts';

export interface OnlineStateOptions<T> {
  /** Key prefix inside the topology's namespace, e.g. 'features:card:'. */
  prefix: string;
  /** Entity key; default the record key. */
  key?: (record: StreamRecord<T>) => string;
  /** Values expire this long after they were written; default keep. */
  ttl?: Duration;
  /** Write at most this long after a value changed (default 200 ms). */
  maxDelayMs?: number;
  /** Most keys whose latest value may wait unwritten (default 100,000); beyond it the oldest pending updates are dropped. */
  maxPendingKeys?: number;
  /** Backoff between attempts while the store fails: doubles from initialDelayMs (200) to maxDelayMs (5000), with jitter. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** What online state holds per key: the latest value, its event time and when the engine produced it (epoch ms). */
export interface OnlineStateValue<T> { value: T; eventTime: number; updatedAt: number }

/** An onlineState(...) sink as declared: where it keeps each record's latest value (the parity audit reads them back). */
export interface OnlineStateSpec<T> extends SinkSpec<StreamRecord<T>> {
  readonly kind: 'state';
  readonly prefix: string;
  /** The store key of a record (inside the topology's namespace `tributary:<topology>:`). */
  storeKey(record: StreamRecord<T>): string;
}

export function isOnlineStateSpec(spec: SinkSpec<never>): spec is OnlineStateSpec<never> {
  return spec.kind === 'state' && typeof (spec as Partial<OnlineStateSpec<unknown>>).storeKey === 'function';
}
