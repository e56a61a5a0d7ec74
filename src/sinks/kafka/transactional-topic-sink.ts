import { randomUUID } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { AckToken } from '../../core/ack.ts';
import type { StreamRecord } from '../../core/batch.ts';
import { ConfigError, errorMessage, SinkError } from '../../core/errors.ts';
import type { Admin, KafkaClient, ProducedMessage, TransactionalProducer } from '../../kafka/kafka-client.ts';
import type { Sink, SinkEnvironment, TransactionalOutput } from '../sink.ts';
import { MESSAGES_PER_SEND, encodeFailures, type TopicRecords } from './topic-records.ts';

/** What a checkpoint stores for this sink: the id its transaction commits as offset metadata, and the records. */
interface CapturedOutput {
  id: string;
  messages: Array<{ key: string | Uint8Array | null; value: Uint8Array | string | null; headers: Record<string, string> }>;
}

/**
 * Exactly-once output to a Kafka topic, committed with the window-state checkpoints:
 * 1. records a partition emits wait here, encoded (their offsets are not yet committed: the
 *    source commits only through the checkpoints);
 * 2. a checkpoint capture takes them (and a fresh id) into the checkpoint, which is saved;
 * 3. then one transaction per source partition (transactional.id tributary:<topology>:<group>:
 *    <topic:partition>) produces them and commits the checkpoint's offset with the id as offset
 *    metadata, so records and the offsets they complete become visible together;
 * 4. a partition's next owner first registers the same transactional id (fencing a zombie and
 *    aborting its open transaction), then compares the committed offset's metadata with its
 *    checkpoint's id: when they differ the saved transaction never completed, and it produces the
 *    checkpoint's records again in a new one. Records emitted after the checkpoint are emitted
 *    again by the restored windows.
 */
export class TransactionalTopicSink<T> implements Sink<StreamRecord<T>>, TransactionalOutput {
  readonly name: string;
  private readonly waiting = new Map<string, ProducedMessage[]>();
  /** Per partition: how many of `waiting` the pending capture took. */
  private readonly captured = new Map<string, number>();
  private readonly producers = new Map<string, Promise<TransactionalProducer>>();
  private admin: Promise<Admin> | null = null;
  private readonly groupId: string;

  constructor(
    private readonly topic: string,
    private readonly records: TopicRecords<T>,
    private readonly environment: SinkEnvironment,
    private readonly client: () => KafkaClient,
  ) {
    this.name = `kafka:${topic}`;
    if (!environment.transactional || !environment.groupId) {
      throw new ConfigError(`kafkaTopicSink(${topic}).delivery`, 'exactly-once delivery needs the engine runtime (a consumer group and checkpoints)', "run it in an engine, or use delivery: 'at-least-once'");
    }
    this.groupId = environment.groupId;
    environment.transactional(this);
  }

  async open(): Promise<void> {
    await this.records.open(this.environment.schemaRegistry?.());
    if (!this.client().transactionalProducer) throw new ConfigError(`kafkaTopicSink(${this.topic}).delivery`, 'this Kafka client has no transactions', "use the kafkajs client, or delivery: 'at-least-once'");
  }

  write(rows: readonly StreamRecord<T>[], acks: readonly AckToken[]): void {
    if (rows.length === 0) return;
    // Tokens that track no source offset (the engine's latency timing token, untracked sources)
    // belong to no partition: only the others must agree.
    let partition: string | undefined;
    for (const ack of acks) {
      if (ack.lastOffset < 0n) continue;
      if (partition === undefined) partition = ack.partitionKey;
      else if (ack.partitionKey !== partition) {
        this.environment.fail(new SinkError(this.name, `one write holds rows of ${partition} and ${ack.partitionKey}; exactly-once needs each partition's rows apart`, { retriable: false }));
        return;
      }
    }
    partition ??= 'untracked';
    const { failed, route } = encodeFailures<T>(this.topic, this.environment);
    const messages = this.records.messages(rows, failed);
    route(acks);
    let waiting = this.waiting.get(partition);
    if (!waiting) this.waiting.set(partition, (waiting = []));
    for (const message of messages) waiting.push(message);
    // No ack token is retained: the records are safe once a checkpoint holds them, and the
    // checkpoint is what the source commits.
  }

  holds(partition: string): boolean {
    return (this.waiting.get(partition)?.length ?? 0) > 0;
  }

  capture(partition: string): Uint8Array | undefined {
    const waiting = this.waiting.get(partition) ?? [];
    this.captured.set(partition, waiting.length);
    const captured: CapturedOutput = { id: randomUUID(), messages: waiting.map((m) => ({ key: m.key ?? null, value: m.value, headers: (m.headers ?? {}) as Record<string, string> })) };
    return serialize(captured);
  }

  async commit(checkpoints: ReadonlyArray<{ partition: string; offset: string; output: Uint8Array | undefined }>): Promise<void> {
    try {
      await Promise.all(checkpoints.map(async ({ partition, offset, output }) => {
        if (output === undefined) return;
        await this.produce(partition, offset, decode(output));
        const taken = this.captured.get(partition) ?? 0;
        this.waiting.get(partition)?.splice(0, taken);
        this.captured.delete(partition);
      }));
    } catch (error) {
      // Whether a failed commit happened is known only to the coordinator: stop, and let the
      // restart decide from the committed offset's metadata.
      const failure = new SinkError(this.name, `transaction failed: ${errorMessage(error)}`, { retriable: false, cause: error });
      this.environment.fail(failure);
      throw failure;
    }
  }

  async restore(partition: string, checkpoint: { offset: string; output: Uint8Array | undefined } | null): Promise<void> {
    this.revoke(partition);
    await this.producerFor(partition); // fences the previous owner and ends its open transaction
    if (checkpoint?.output === undefined) return;
    const captured = decode(checkpoint.output);
    const { topic, number } = split(partition);
    const admin = await this.connectedAdmin();
    const committed = (await admin.committedOffsets(this.groupId, topic)).find((o) => o.partition === number);
    if (committed?.metadata === captured.id) return;
    this.environment.logger.info({ partition, offset: checkpoint.offset, records: captured.messages.length, topic: this.topic }, 'completing the checkpoint transaction the previous owner saved but did not commit');
    await this.produce(partition, checkpoint.offset, captured);
  }

  revoke(partition: string): void {
    this.waiting.delete(partition);
    this.captured.delete(partition);
  }

  isFull(): boolean {
    return false;
  }

  async whenReady(): Promise<void> {}

  /** Records leave with the checkpoints; what waits here is emitted again after a restart. */
  async flush(): Promise<void> {}

  async close(): Promise<void> {
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(producers.map((p) => p.then((producer) => producer.disconnect()).catch(() => {})));
    await this.admin?.then((admin) => admin.disconnect()).catch(() => {});
  }

  private async produce(partition: string, offset: string, captured: CapturedOutput): Promise<void> {
    const producer = await this.producerFor(partition);
    const { topic, number } = split(partition);
    const messages: ProducedMessage[] = captured.messages.map((m) => ({ key: toBuffer(m.key), value: toBuffer(m.value), headers: m.headers }));
    const transaction = await producer.transaction();
    try {
      for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) await transaction.send(this.topic, messages.slice(i, i + MESSAGES_PER_SEND));
      await transaction.sendOffsets(this.groupId, [{ topic, partition: number, offset, metadata: captured.id }]);
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
  }

  private producerFor(partition: string): Promise<TransactionalProducer> {
    let producer = this.producers.get(partition);
    if (!producer) {
      const created = this.client().transactionalProducer!(`tributary:${this.environment.topology}:${this.groupId}:${partition}`);
      producer = created.connect().then(() => created);
      producer.catch(() => this.producers.delete(partition));
      this.producers.set(partition, producer);
    }
    return producer;
  }

  private connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.client().admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => (this.admin = null));
    }
    return this.admin;
  }
}

function decode(output: Uint8Array): CapturedOutput {
  return deserialize(output) as CapturedOutput;
}

function toBuffer(bytes: string | Uint8Array | null): Buffer | string | null {
  return bytes === null || typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function split(partitionKey: string): { topic: string; number: number } {
  const colon = partitionKey.lastIndexOf(':');
  return { topic: partitionKey.slice(0, colon), number: Number(partitionKey.slice(colon + 1)) };
}
