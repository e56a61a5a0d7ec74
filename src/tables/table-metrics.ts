import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../observability/metrics.ts';
import type { LookupTable } from './lookup-table.ts';

type Labels = { topology: string; table: string };

/**
 * Prometheus metrics of lookup tables, registered on an engine's registry the first time one of
 * its tables starts (kept apart from Metrics so topologies without tables export none of them).
 * Sizes and evictions are read from the tables when scraped, so the hot path counts nothing.
 */
export interface TableMetrics {
  /** Values applied (inserts and updates). */
  readonly updates: Counter<'topology' | 'table'>;
  /** Tombstones applied. */
  readonly deletes: Counter<'topology' | 'table'>;
  /** Records that could not be applied (undecodable, no key); logged, never fatal. */
  readonly invalid: Counter<'topology' | 'table'>;
  /** Reports `table`'s size and TTL evictions under `labels` until the returned function is called. */
  track(labels: Labels, table: LookupTable<unknown>): () => void;
}

const registered = new WeakMap<Metrics, TableMetrics>();

export function tableMetrics(metrics: Metrics): TableMetrics {
  let existing = registered.get(metrics);
  if (existing === undefined) {
    existing = create(metrics);
    registered.set(metrics, existing);
  }
  return existing;
}

function create(metrics: Metrics): TableMetrics {
  const registers = [metrics.registry];
  const labelNames = ['topology', 'table'] as const;
  const tracked = new Map<LookupTable<unknown>, { labels: Labels; reportedExpired: number }>();
  const entries = new Gauge({
    name: 'tributary_table_entries',
    help: 'Entries held by a lookup table (expired ones not yet evicted included)',
    labelNames,
    registers,
    collect() {
      for (const [table, { labels }] of tracked) this.set(labels, table.size);
    },
  });
  const expired = new Counter({
    name: 'tributary_table_expired_total',
    help: 'Lookup table entries evicted because their TTL passed',
    labelNames,
    registers,
    collect() {
      for (const [table, state] of tracked) {
        const delta = table.expiredCount - state.reportedExpired;
        if (delta > 0) this.inc(state.labels, delta);
        state.reportedExpired = table.expiredCount;
      }
    },
  });
  return {
    updates: new Counter({ name: 'tributary_table_updates_total', help: 'Values applied to a lookup table from its source', labelNames, registers }),
    deletes: new Counter({ name: 'tributary_table_deletes_total', help: 'Tombstones applied to a lookup table from its source', labelNames, registers }),
    invalid: new Counter({ name: 'tributary_table_invalid_records_total', help: 'Table records that could not be applied (undecodable, no key)', labelNames, registers }),
    track(labels, table) {
      tracked.set(table, { labels, reportedExpired: table.expiredCount });
      entries.set(labels, table.size);
      expired.inc(labels, 0);
      return () => {
        tracked.delete(table);
        entries.remove(labels);
      };
    },
  };
}
