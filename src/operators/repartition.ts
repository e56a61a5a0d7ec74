import { Observable, type OperatorFunction } from 'rxjs';
import { releaseAll, retainAll } from '../core/ack.ts';
import type { Batch, StreamRecord } from '../core/batch.ts';
import { ConfigError, errorMessage, SinkError } from '../core/errors.ts';
import { OffsetTracker } from '../core/offset-tracker.ts';
import type { StepRuntime, StateRegistry } from '../core/step-state.ts';
import type { Admin, BatchConsumer, FetchedBatch, KafkaClient, ProducedMessage, Producer } from '../kafka/kafka-client.ts';

export interface RepartitionOptions {
  /** Internal topic (default `<topology>-<step>-repartition`), created when absent. */
  topic?: string;
  /** Its partition count (default: the source topic's). */
  partitions?: number;
  /** Step name (default 'repartition'): names the topic and the internal consumer group. */
  name?: string;
}

/** Headers of the internal records: event time, and the sending task's partition and watermark. */
const EVENT_TIME = 'tributary-event-time';
const SOURCE = 'tributary-source-partition';
const WATERMARK = 'tributary-watermark';
const COMMIT_INTERVAL_MS = 500;

/**
 * Re-keys the stream through an internal Kafka topic, so the steps after it see every record of
 * a key in one partition (windows per card over payments keyed by merchant). Each partition task
 * produces its records keyed by `by(value)` (JSON values, the event time in a header) and reads
 * back the internal partitions p with p mod (source partitions) = its own partition.
 *
 * Watermarks travel with the records: every produced batch also sends each internal partition a
 * watermark record carrying the sender's watermark, and an internal partition's watermark is the
 * lowest over all source partitions, -Infinity until each has reported. So a window after the
 * repartition closes only once every upstream partition has passed it, however the keys spread.
 *
 * At-least-once: the source's offsets wait for the produce ack, the internal offsets for the
 * downstream sinks. Window state after a repartition is in memory (not checkpointed). Values
 * must be JSON (plain objects, numbers, strings).
 *
 * @example payments.pipe(repartition((p) => p.cardId), keyBy((p) => p.cardId), tumbling('1m'), aggregate(...))
 */
export function repartition<T>(by: (value: T) => string, options: RepartitionOptions = {}): OperatorFunction<Batch<T>, Batch<T>> {
  const step = options.name ?? 'repartition';
  return (source) =>
    new Observable<Batch<T>>((subscriber) => {
      let lane: Lane<T> | null = null;
      let chain: Promise<void> = Promise.resolve();
      const fail = (error: unknown) => subscriber.error(error);
      const upstream = source.subscribe({
        next: (batch) => {
          retainAll(batch.acks);
          chain = chain
            .then(async () => {
              lane ??= await Lane.open<T>(step, options, batch, (out) => subscriber.next(out), fail);
              await lane.produce(batch, by);
            })
            .then(() => releaseAll(batch.acks), fail);
        },
        error: fail,
        // The internal topic has no end: what was produced keeps flowing until the engine stops.
        complete: () => void chain.then(() => lane?.close()).then(() => subscriber.complete(), fail),
      });
      return () => {
        upstream.unsubscribe();
        void chain.then(() => lane?.close());
      };
    });
}

/** One task's side of the internal topic: its producer, and the consumer of its internal partitions. */
class Lane<T> {
  private readonly tracker = new OffsetTracker();
  /** Latest watermark per source partition, per owned internal partition. */
  private readonly watermarks = new Map<number, Map<number, number>>();
  private emitted = -Infinity;
  /** The watermark this task last sent: what its next records carry (theirs is sent after them). */
  private sent = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly topic: string,
    private readonly partitions: number,
    private readonly sources: number,
    private readonly task: number,
    private readonly producer: Producer,
    private readonly consumer: BatchConsumer,
    private readonly registry: StateRegistry | undefined,
    private readonly emit: (batch: Batch<T>) => void,
  ) {}

  static async open<T>(step: string, options: RepartitionOptions, first: Batch<T>, emit: (batch: Batch<T>) => void, fail: (error: unknown) => void): Promise<Lane<T>> {
    const registry = first.side.state as StateRegistry | undefined;
    const runtime: StepRuntime | undefined = registry?.runtime;
    if (!runtime?.kafka) throw new ConfigError(`${step}`, 'repartition needs the engine on Kafka (its internal topic)', 'set KAFKA_BROKERS and read from a Kafka topic');
    // Checkpoints cover the source's offsets, not the internal topic's: state after it would not match.
    if (registry?.durable) throw new ConfigError('TRIBUTARY_WINDOW_STATE', `step ${step}: window state after a repartition is kept in memory, and durable state is on`, 'unset TRIBUTARY_WINDOW_STATE, or split the topology in two at the repartition (README "Two stages")');
    const client = runtime.kafka.client() as KafkaClient;
    const key = first.acks[0]?.partitionKey;
    if (!key) throw new ConfigError(`${step}`, 'repartition needs a Kafka source (records with partitions)', 'read the topology from a Kafka topic');
    const colon = key.lastIndexOf(':');
    const sourceTopic = key.slice(0, colon);
    const task = Number(key.slice(colon + 1));
    const admin = client.admin();
    await admin.connect();
    try {
      const sources = (await admin.partitionCount(sourceTopic)) ?? 1;
      const topic = options.topic ?? `${runtime.topology}-${step}-repartition`;
      const partitions = await ensureTopic(admin, topic, options.partitions ?? sources, step);
      const producer = client.producer({ idempotent: true });
      await producer.connect();
      // Its own group per task: it reads the internal partitions it owns, the others pass by.
      const consumer = client.consumer({ groupId: `${runtime.kafka.groupId}-${step}-${task}`, minBytes: 1, maxWaitTimeMs: 50 });
      await consumer.connect();
      await consumer.subscribe(topic, { fromBeginning: true });
      const lane = new Lane<T>(topic, partitions, sources, task, producer, consumer, registry, emit);
      void consumer.run(async (batch) => lane.receive(batch)).catch(fail);
      lane.timer = setInterval(() => void lane.commit().catch(() => {}), COMMIT_INTERVAL_MS);
      lane.timer.unref();
      return lane;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async produce(batch: Batch<T>, by: (value: T) => string): Promise<void> {
    const source = String(this.task);
    // A batch's watermark covers all its records, which reach an internal partition over several
    // fetches: the records carry the previous one, and the new one follows them.
    const before = String(this.sent);
    const messages: ProducedMessage[] = batch.records.map((record) => ({ key: by(record.value), value: JSON.stringify(record.value), headers: { [EVENT_TIME]: String(record.eventTime), [SOURCE]: source, [WATERMARK]: before } }));
    if (batch.watermark > this.sent) {
      const after = String(batch.watermark);
      for (let p = 0; p < this.partitions; p++) messages.push({ key: null, value: null, partition: p, headers: { [SOURCE]: source, [WATERMARK]: after } });
      this.sent = batch.watermark;
    }
    for (let i = 0; i < messages.length; i += 1_000) {
      try {
        await this.producer.send(this.topic, messages.slice(i, i + 1_000));
      } catch (error) {
        throw new SinkError(`repartition:${this.topic}`, `producing to the internal topic failed: ${errorMessage(error)}`, { retriable: false, cause: error });
      }
    }
  }

  private receive(batch: FetchedBatch): void {
    if (this.closed || batch.partition % this.sources !== this.task || batch.messages.length === 0) return;
    let marks = this.watermarks.get(batch.partition);
    if (!marks) this.watermarks.set(batch.partition, (marks = new Map()));
    const records: StreamRecord<T>[] = [];
    for (const message of batch.messages) {
      const headers = message.headers ?? {};
      const source = Number(String(headers[SOURCE]));
      const mark = Number(String(headers[WATERMARK]));
      if (mark > (marks.get(source) ?? -Infinity)) marks.set(source, mark);
      if (message.value === null) continue;
      records.push({ value: JSON.parse(message.value.toString()) as T, key: message.key?.toString() ?? '', eventTime: Number(String(headers[EVENT_TIME])), topic: this.topic, partition: batch.partition, offset: message.offset });
    }
    const last = BigInt(batch.messages.at(-1)!.offset);
    const token = this.tracker.track(this.topic, batch.partition, last, records.length);
    const watermark = this.watermark();
    if (watermark > this.emitted) this.emitted = watermark;
    this.emit({ records, watermark: this.emitted, acks: [token], side: { late: [], deadLetters: [], state: this.registry } });
    token.release();
  }

  /** The lowest watermark over every source partition in every owned internal partition. */
  private watermark(): number {
    let lowest = Infinity;
    for (let p = this.task; p < this.partitions; p += this.sources) {
      const marks = this.watermarks.get(p);
      for (let s = 0; s < this.sources; s++) lowest = Math.min(lowest, marks?.get(s) ?? -Infinity);
    }
    return lowest;
  }

  private async commit(): Promise<void> {
    const offsets = this.tracker.pending();
    if (offsets.length === 0) return;
    await this.consumer.commit(offsets);
    this.tracker.markCommitted(offsets);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.commit().catch(() => {});
    await this.consumer.disconnect().catch(() => {});
    await this.producer.disconnect().catch(() => {});
  }
}

/** Creates the internal topic with `partitions`, or checks an existing one has that many. */
async function ensureTopic(admin: Admin, topic: string, partitions: number, step: string): Promise<number> {
  const existing = await admin.partitionCount(topic);
  if (existing === undefined) {
    await admin.createTopic(topic, { partitions });
    return partitions;
  }
  if (existing !== partitions) throw new ConfigError(`${step}.partitions`, `internal topic ${topic} has ${existing} partitions, not ${partitions}`, `delete the topic, or set partitions: ${existing}`);
  return existing;
}
