/**
 * The Kafka part of close latency, measured apart from the engine: a plain consumer in the bench
 * process notes when each fetched batch arrived and the newest record timestamp in it (the
 * producer's CreateTime, stamped at send). A window that can close at wall time T needs a record
 * of T on every partition, so transport(T) = max over partitions of (arrival of the first batch
 * with a record at or after T) - T: what no engine change can remove.
 */
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import { silentLogger } from '../../src/observability/logger.ts';

interface Arrival {
  newest: number;
  at: number;
}

export interface TransportProbe {
  /** ms from `t` until every partition had delivered a record stamped at or after `t`; undefined if one has not. */
  delayAfter(t: number): number | undefined;
  stop(): Promise<void>;
}

export async function startTransportProbe(brokers: string[], topic: string, partitions: number, groupId: string): Promise<TransportProbe> {
  const consumer = createKafkajsClient({ brokers, clientId: 'bench-transport', logger: silentLogger }).consumer({ groupId, minBytes: 1, maxWaitTimeMs: 100 });
  const arrivals: Arrival[][] = Array.from({ length: partitions }, () => []);
  await consumer.connect();
  await consumer.subscribe(topic, { fromBeginning: false });
  void consumer.run(async (batch) => {
    const at = Date.now();
    let newest = -Infinity;
    for (const message of batch.messages) newest = Math.max(newest, Number(message.timestamp));
    if (batch.messages.length > 0) arrivals[batch.partition]?.push({ newest, at });
  });
  return {
    delayAfter(t) {
      let delay = -Infinity;
      for (const list of arrivals) {
        const first = list.find((a) => a.newest >= t);
        if (first === undefined) return undefined;
        delay = Math.max(delay, first.at - t);
      }
      return delay;
    },
    stop: () => consumer.disconnect(),
  };
}
