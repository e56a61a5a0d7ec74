import type { DeadLetter } from '../../core/batch.ts';
import type { Producer } from '../../kafka/kafka-client.ts';
import { BatchingSink } from '../batching-sink.ts';
import type { SinkEnvironment, SinkSpec } from '../sink.ts';

/** kafkajs's producer slows down sharply past ~1,000 messages per send (measured in the bench). */
const MESSAGES_PER_SEND = 1_000;

/**
 * Dead letters to a Kafka topic: the original bytes as the value (a replay tool can re-produce
 * them unchanged) and the provenance as headers: tributary-topic, -partition, -offset, -step,
 * -error, -topology. Use it beside, or instead of, the ClickHouse dead-letter table.
 *
 * @example deadLetter: [clickhouseDeadLetters(), kafkaDeadLetters('payments.dlq')]
 */
export function kafkaDeadLetters(topic: string, options: { maxDelayMs?: number } = {}): SinkSpec<DeadLetter> {
  return {
    description: `kafka dead-letter topic ${topic}`,
    kind: 'kafka',
    create: (environment) => new KafkaDeadLetterSink(topic, environment, options.maxDelayMs ?? 500),
  };
}

class KafkaDeadLetterSink extends BatchingSink<DeadLetter> {
  private producer: Producer | null = null;

  constructor(
    private readonly topic: string,
    private readonly environment: SinkEnvironment,
    maxDelayMs: number,
  ) {
    super({ name: `kafka:${topic}`, topology: environment.topology, logger: environment.logger, metrics: environment.metrics, maxRows: MESSAGES_PER_SEND, maxDelayMs, onFatal: environment.fail });
  }

  override async open(): Promise<void> {
    this.producer = await this.environment.kafkaProducer();
  }

  protected async writeRows(letters: DeadLetter[]): Promise<void> {
    const topology = this.environment.topology;
    const messages = letters.map((letter) => ({
      value: letter.raw === null ? null : Buffer.from(letter.raw.buffer, letter.raw.byteOffset, letter.raw.byteLength),
      key: letter.key ?? null,
      headers: {
        'tributary-topology': topology,
        'tributary-step': letter.step,
        'tributary-topic': letter.topic,
        'tributary-partition': String(letter.partition),
        'tributary-offset': letter.offset,
        'tributary-error': letter.error.slice(0, 4_000),
      },
    }));
    for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) await this.producer!.send(this.topic, messages.slice(i, i + MESSAGES_PER_SEND));
  }
}
