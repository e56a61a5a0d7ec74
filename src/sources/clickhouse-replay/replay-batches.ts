import { AckToken } from '../../core/ack.ts';
import type { DeadLetter, StreamRecord } from '../../core/batch.ts';
import { errorMessage } from '../../core/errors.ts';
import { eventTimeOf } from '../event-time.ts';
import type { SourceBatch } from '../source.ts';
import type { ReplayRow } from './replay-plan.ts';

/**
 * Cuts replayed rows into the engine's source batches, all of one partition key.
 *
 * Records keep the Kafka topic, partition and offset they were stored with, so that dead letters
 * and late records of a backfill name the original record. Those offsets are not one sequence,
 * so the batches' ack tokens count batches instead (a backfill runs with in-memory window state,
 * where the engine does not filter records by offset); rows without provenance get sequence
 * numbers as offsets.
 */
export class ReplayBatcher<T> {
  private readonly partitionKey: string;
  private readonly chunk: number;
  private readonly eventTime: (value: T) => number;
  private records: StreamRecord<T>[] = [];
  private deadLetters: DeadLetter[] = [];
  private maxEventTime = -Infinity;
  /** Batches cut so far: the next batch's token offset. */
  private batches = 0;
  private sequence = 0;

  constructor(options: { partitionKey: string; chunk: number; eventTime: (value: T) => number }) {
    this.partitionKey = options.partitionKey;
    this.chunk = options.chunk;
    this.eventTime = options.eventTime;
  }

  /** Adds rows in replay order; returns the batches they complete. */
  add(rows: readonly ReplayRow[]): SourceBatch<T>[] {
    const out: SourceBatch<T>[] = [];
    for (const row of rows) {
      const record = this.toRecord(row);
      if (this.records.length + this.deadLetters.length >= this.chunk) out.push(this.cut());
      this.pushRecord(row, record);
    }
    return out;
  }

  /** The rest, as a last batch (none when empty). */
  flush(): SourceBatch<T>[] {
    return this.records.length + this.deadLetters.length > 0 ? [this.cut()] : [];
  }

  private toRecord(row: ReplayRow): StreamRecord<T> {
    const source = row.source;
    const value = row.value as T;
    if (source) return { value, key: '', eventTime: 0, topic: source.topic, partition: source.partition, offset: source.offset };
    return { value, key: '', eventTime: 0, topic: this.partitionKey, partition: 0, offset: String(this.sequence++) };
  }

  private pushRecord(row: ReplayRow, record: StreamRecord<T>): void {
    try {
      record.eventTime = eventTimeOf(this.eventTime, record.value);
    } catch (error) {
      const raw = new TextEncoder().encode(JSON.stringify(row.value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
      this.deadLetters.push({ step: 'event-time', topic: record.topic, partition: record.partition, offset: record.offset, error: errorMessage(error), raw });
      return;
    }
    if (record.eventTime > this.maxEventTime) this.maxEventTime = record.eventTime;
    this.records.push(record);
  }

  private cut(): SourceBatch<T> {
    const batch: SourceBatch<T> = {
      partitionKey: this.partitionKey,
      records: this.records,
      deadLetters: this.deadLetters,
      maxEventTime: this.maxEventTime,
      token: new AckToken(this.partitionKey, BigInt(this.batches), this.records.length + this.deadLetters.length, () => {}),
    };
    this.batches++;
    this.records = [];
    this.deadLetters = [];
    this.maxEventTime = -Infinity;
    return batch;
  }
}
