import type { AckToken } from '../core/ack.ts';
import type { StreamRecord } from '../core/batch.ts';
import type { Sink, SinkSpec } from './sink.ts';
import type { SinkTrace } from '../observability/tracing/batch-trace.ts';

const eventTimeOf = (record: StreamRecord<unknown>) => record.eventTime;

export interface WebSocketChannelOptions<T> {
  /** What clients receive for a record; default the record's value. */
  select?: (value: T) => unknown;
  /**
   * The item's key: clients filter by it, get the latest item per key on subscribe, and a slow
   * client gets only the latest pending item per key. Default: the record's key (set by keyBy),
   * when it has one.
   */
  key?: (value: T) => string;
}

/**
 * Publishes each record's value on a WebSocket channel of the engine's push server. Delivery to
 * dashboards is best effort and immediate, so it never holds offsets back and is never full.
 *
 * @example sinks: { predictions: [websocketChannel('fraud', { key: (p) => p.cardId })] }
 */
export function websocketChannel<T>(channel: string, options: WebSocketChannelOptions<T> = {}): SinkSpec<StreamRecord<T>> {
  return {
    description: `websocket channel ${channel}`,
    kind: 'websocket',
    destination: channel,
    create(environment): Sink<StreamRecord<T>> {
      const select = options.select ?? ((value: T) => value);
      const keyOf = options.key;
      const name = `ws:${channel}`;
      // Event time → handed to the sockets (uWS writes synchronously into their send buffers).
      const latency = environment.metrics.endToEndLatency.labels({ topology: environment.topology, sink: name });
      return {
        name,
        open: async () => {},
        write(records: readonly StreamRecord<T>[], _acks: readonly AckToken[], trace?: SinkTrace) {
          const server = environment.push();
          if (!server || records.length === 0) return;
          // Synchronous: the span covers handing the items to the sockets.
          const span = trace === undefined ? undefined : trace.tracer.startSpan(`sink ${name}`, trace.parents, { 'tributary.sink': name, 'tributary.rows': records.length });
          const items = new Array<unknown>(records.length);
          const keys = new Array<string | undefined>(records.length);
          for (let i = 0; i < records.length; i++) {
            const record = records[i]!;
            items[i] = select(record.value);
            keys[i] = keyOf !== undefined ? String(keyOf(record.value)) : record.key === '' ? undefined : record.key;
          }
          server.publish(channel, items, keys);
          span?.end();
          latency.observeSecondsSince(records, eventTimeOf, Date.now());
        },
        isFull: () => false,
        whenReady: async () => {},
        flush: async () => {},
        close: async () => {},
      };
    },
  };
}
