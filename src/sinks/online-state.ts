import type { StreamRecord } from '../core/batch.ts';
import { toMillis, type Duration } from '../core/duration.ts';
import type { KeyValueStore } from '../state/key-value-store.ts';
import { BatchingSink } from './batching-sink.ts';
import type { SinkEnvironment, SinkSpec } from './sink.ts';

export interface OnlineStateOptions<T> {
  /** Key prefix inside the topology's namespace, e.g. 'features:card:'. */
  prefix: string;
  /** Entity key; default the record key. */
  key?: (record: StreamRecord<T>) => string;
  /** Stale values expire after this long; default keep. */
  ttl?: Duration;
  maxDelayMs?: number;
}

/**
 * Keeps the latest value per key in the hot state store (Redis when REDIS_URL is set, memory
 * otherwise), with a freshness timestamp, for online lookups. One pipelined write per flush.
 *
 * @example sinks: { features: [onlineState({ prefix: 'features:card:' })] }
 */
export function onlineState<T>(options: OnlineStateOptions<T>): SinkSpec<StreamRecord<T>> {
  const ttlMs = options.ttl === undefined ? 0 : toMillis(options.ttl, 'onlineState.ttl');
  return {
    description: `online state ${options.prefix}*`,
    create: (environment) => new OnlineStateSink(options, ttlMs, environment),
  };
}

class OnlineStateSink<T> extends BatchingSink<StreamRecord<T>> {
  private store: KeyValueStore | null = null;
  private readonly options: OnlineStateOptions<T>;
  private readonly ttlMs: number;
  private readonly environment: SinkEnvironment;

  constructor(options: OnlineStateOptions<T>, ttlMs: number, environment: SinkEnvironment) {
    super({ name: `state:${options.prefix}`, topology: environment.topology, logger: environment.logger, metrics: environment.metrics, maxRows: 5_000, maxDelayMs: options.maxDelayMs ?? 200, onFatal: environment.fail });
    this.options = options;
    this.ttlMs = ttlMs;
    this.environment = environment;
  }

  override async open(): Promise<void> {
    this.store = await this.environment.state();
  }

  protected async writeRows(records: StreamRecord<T>[]): Promise<void> {
    // Later records win: collapse to the latest value per key before writing.
    const latest = new Map<string, unknown>();
    const updatedAt = Date.now();
    for (const record of records) {
      const key = this.options.key ? this.options.key(record) : record.key;
      latest.set(this.options.prefix + key, { value: record.value, eventTime: record.eventTime, updatedAt });
    }
    await this.store!.setMany([...latest], this.ttlMs);
  }
}
