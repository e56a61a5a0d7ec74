import type { AckToken } from '../core/ack.ts';
import type { StreamRecord } from '../core/batch.ts';
import type { Sink, SinkSpec } from './sink.ts';

/**
 * Publishes each record's value on a WebSocket channel of the engine's push server. Delivery to
 * dashboards is best effort and immediate, so it never holds offsets back and is never full.
 *
 * @example sinks: { predictions: [websocketChannel('fraud')] }
 */
export function websocketChannel<T>(channel: string, options: { select?: (value: T) => unknown } = {}): SinkSpec<StreamRecord<T>> {
  return {
    description: `websocket channel ${channel}`,
    create(environment): Sink<StreamRecord<T>> {
      const select = options.select ?? ((value: T) => value);
      return {
        name: `ws:${channel}`,
        open: async () => {},
        write(records: readonly StreamRecord<T>[], _acks: readonly AckToken[]) {
          const server = environment.push();
          if (!server || records.length === 0) return;
          const items = new Array<unknown>(records.length);
          for (let i = 0; i < records.length; i++) items[i] = select(records[i]!.value);
          server.publish(channel, items);
        },
        isFull: () => false,
        whenReady: async () => {},
        flush: async () => {},
        close: async () => {},
      };
    },
  };
}
