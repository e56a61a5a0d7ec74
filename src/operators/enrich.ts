import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { ConfigError } from '../core/errors.ts';
import { LookupTable } from '../tables/lookup-table.ts';
import { deadLetterUserError } from './guarded.ts';
import { countStepOf } from './step-counts.ts';

export interface EnrichOptions<T, V, U> {
  /** The table key of a record's value; null or undefined: nothing to look up (the row is missing). */
  key: (value: T) => string | number | null | undefined;
  /** Builds the output from the value and its row; `row` is undefined when the key is absent, deleted or expired. */
  combine: (value: T, row: V | undefined) => U;
  /**
   * 'left' (default): every record comes out, with row undefined where there is none, so a
   * missing row shows up in the data (e.g. tier 'unknown') instead of silently dropping events.
   * 'inner': records without a row are dropped.
   */
  type?: 'left' | 'inner';
  /** Step name for dead letters; default `enrich-<table name>`. */
  name?: string;
}

/**
 * Stream–table join: looks each record's key up in a lookup table and combines the value with
 * the row found, synchronously, in one loop per batch (one clock read per batch, no promise per
 * record). The table's state at the moment the batch is processed is what a record sees: rows
 * are not versioned by event time. With a kafkaTable listed in the topology's `tables`, that
 * state includes at least every table update written before the engine started.
 *
 * Batches pass through with their watermark, acks and side outputs; records keep their key,
 * event time and provenance. A key or combine function that throws sends its record to the dead
 * letters (step `name`) and the others continue.
 *
 * @example
 * const merchants = kafkaTable<Merchant>({ name: 'merchants', topic: 'merchants', format: 'json', ttl: '24h' });
 * payments.pipe(enrich(merchants, { key: (p) => p.merchantId, combine: (p, m) => ({ ...p, riskTier: m?.riskTier ?? 'unknown' }) }))
 */
export function enrich<T, V, U>(table: LookupTable<V>, options: EnrichOptions<T, V, U>): OperatorFunction<Batch<T>, Batch<U>> {
  if (!(table instanceof LookupTable)) throw new ConfigError('enrich.table', 'is not a lookup table', 'pass a table made with kafkaTable({...}) or lookupTable({...})');
  if (typeof options.key !== 'function') throw new ConfigError('enrich.key', 'no key function given', 'set key: (value) => value.merchantId');
  if (typeof options.combine !== 'function') throw new ConfigError('enrich.combine', 'no combine function given', "set combine: (value, row) => ({ ...value, tier: row?.tier ?? 'unknown' })");
  const type = options.type ?? 'left';
  if (type !== 'left' && type !== 'inner') throw new ConfigError('enrich.type', `unknown type "${String(type)}"`, "use 'left' or 'inner'");
  const step = options.name ?? `enrich-${table.name}`;
  const { key: selectKey, combine } = options;
  const inner = type === 'inner';

  return (source) =>
    new Observable<Batch<U>>((subscriber) => {
      let checked = false;
      return source.subscribe({
        next(batch) {
          // In an engine, a table with a source must be listed in the topology's `tables`, or
          // nothing fills it and every lookup silently misses. (Tests fill tables by hand.)
          if (!checked) {
            checked = true;
            if (batch.side.state?.runtime !== undefined && table.source !== undefined && !table.feeding) {
              subscriber.error(new ConfigError('tables', `table "${table.name}" used by ${step} is fed from ${table.source.description}, but the topology does not list it, so nothing fills it`, `add it to the topology: tables: [${table.name}]`));
              return;
            }
          }
          const input = batch.records;
          const output: StreamRecord<U>[] = [];
          const now = table.now();
          for (let i = 0; i < input.length; i++) {
            const record = input[i]!;
            try {
              const key = selectKey(record.value);
              const row = key === null || key === undefined ? undefined : table.get(typeof key === 'string' ? key : String(key), now);
              if (row === undefined && inner) continue;
              const value = combine(record.value, row);
              output.push({ value, key: record.key, eventTime: record.eventTime, topic: record.topic, partition: record.partition, offset: record.offset });
            } catch (error) {
              deadLetterUserError(batch, step, record, error);
            }
          }
          table.maintain(now);
          countStepOf(batch.side, step, input.length, output.length);
          subscriber.next({ records: output, watermark: batch.watermark, acks: batch.acks, side: batch.side });
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
