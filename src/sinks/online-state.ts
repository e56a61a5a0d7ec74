import { toMillis } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import type { OnlineStateOptions, OnlineStateSpec } from './online-state-options.ts';
import { OnlineStateSink } from './online-state-sink.ts';

export { isOnlineStateSpec, type OnlineStateOptions, type OnlineStateSpec, type OnlineStateValue } from './online-state-options.ts';

/**
 * Keeps the latest value per key in the hot state store (Redis when REDIS_URL is set, memory
 * otherwise), for online lookups. Online state is a cache of the newest results; the
 * ClickHouse tables keep the history. Updates are conflated (latest value per key) and written
 * with one pipelined write per flush.
 *
 * Guarantee: Redis holds the latest value per key at least once it is reachable again; while it
 * is down, lookups are stale. In detail:
 * - Healthy: rows are acknowledged (their offsets may commit) once the store has their values.
 * - A write fails with a retriable error (Redis down, timing out, out of memory): the sink keeps
 *   the latest value per key in memory, acknowledges the rows (it has taken responsibility for
 *   them, see core/ack.ts), marks itself degraded (`tributary_state_degraded` 1, the store's
 *   `lookup` reports `stale: true`) and retries with backoff and jitter. It never reports
 *   `isFull()`, so the engine and the other sinks (ClickHouse, WebSocket) go on. Once a write
 *   succeeds, the pending latest values are in Redis and the degraded state clears.
 * - Beyond `maxPendingKeys` the oldest pending updates are dropped (counted): those keys keep
 *   an older value in Redis until they are updated again. Values whose TTL ran out while
 *   pending are not written. A crash or shutdown while degraded loses the pending values too
 *   (their rows were acknowledged); the next update of each key repairs it.
 * - A value the store can never accept (not JSON) stops the engine after 3 attempts.
 *
 * @example sinks: { features: [onlineState({ prefix: 'features:card:' })] }
 */
export function onlineState<T>(options: OnlineStateOptions<T>): OnlineStateSpec<T> {
  const ttlMs = options.ttl === undefined ? 0 : toMillis(options.ttl, 'onlineState.ttl');
  const maxPendingKeys = options.maxPendingKeys ?? 100_000;
  if (!Number.isInteger(maxPendingKeys) || maxPendingKeys < 1) {
    throw new ConfigError('onlineState.maxPendingKeys', `${maxPendingKeys} is not a positive integer`, 'use a whole number of keys, e.g. 100000');
  }
  return {
    description: `online state ${options.prefix}*`,
    kind: 'state',
    destination: options.prefix,
    prefix: options.prefix,
    storeKey: (record) => options.prefix + (options.key ? options.key(record) : record.key),
    create: (environment) => new OnlineStateSink(options, ttlMs, maxPendingKeys, environment),
  };
}
