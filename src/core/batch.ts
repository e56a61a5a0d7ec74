import type { AckToken } from './ack.ts';
import type { StateRegistry } from './step-state.ts';
import type { BatchTrace } from '../observability/tracing/batch-trace.ts';
import type { BatchTiming } from '../observability/stage-latency.ts';

/** One event moving through a topology, with the provenance it needs for dead letters and lateness. */
export interface StreamRecord<T> {
  value: T;
  /** Grouping key, set by keyBy; '' before. */
  key: string;
  /** Event time, epoch milliseconds. */
  eventTime: number;
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string ('' for derived records). */
  offset: string;
}

/** A record that arrived after every window it belongs to had closed. */
export interface LateRecord {
  step: string;
  key: string;
  eventTime: number;
  watermark: number;
  topic: string;
  partition: number;
  offset: string;
  value: unknown;
}

/** A record that could not be processed, with everything needed to find and replay it. */
export interface DeadLetter {
  step: string;
  topic: string;
  partition: number;
  offset: string;
  error: string;
  /** The original bytes (null when the failure happened after decoding). */
  raw: Uint8Array | null;
  key?: string;
  timestamp?: number;
}

/** Late records and dead letters collected while one source batch passes through the pipeline. */
export interface SideOutputs {
  late: LateRecord[];
  deadLetters: DeadLetter[];
  /**
   * The running topology's stateful steps (see state/step-state.ts), carried with every batch so
   * each stateful step can register once; absent in plain-array runs and unit tests.
   */
  state?: StateRegistry;
  /** The batch's trace, when tracing is on and the batch is traced (see observability/tracing/batch-trace.ts). */
  trace?: BatchTrace;
  /** The batch's arrival in the engine, for the stage latency metrics (observability/stage-latency.ts); absent outside an engine. */
  timing?: BatchTiming;
}

/**
 * The unit that moves through a topology: records of one source batch (never one event at a
 * time), the event-time watermark after them, and the ack tokens of the source batches they cover.
 */
export interface Batch<T> {
  records: StreamRecord<T>[];
  /** Event-time watermark (epoch ms) once this batch is processed; -Infinity before any data. */
  watermark: number;
  acks: AckToken[];
  side: SideOutputs;
}

export function newSideOutputs(): SideOutputs {
  return { late: [], deadLetters: [] };
}

/** A batch with the same watermark, acks and side outputs as `from`, carrying other records. */
export function withRecords<T>(from: Batch<unknown>, records: StreamRecord<T>[]): Batch<T> {
  return { records, watermark: from.watermark, acks: from.acks, side: from.side };
}
