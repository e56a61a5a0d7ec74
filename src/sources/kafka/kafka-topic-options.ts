import type { Duration } from '../../core/duration.ts';
import type { DecoderFormat } from '../../serde/create-decoder.ts';
import type { ConsumerOptions, KafkaClient } from '../../kafka/kafka-client.ts';
import type { SourceEnvironment } from '../source.ts';
import type { OffsetGapPolicy } from './offset-gaps.ts';

/** What kafkaTopic() takes (kafka-source.ts). */
export interface KafkaTopicOptions<T> {
  topic: string;
  format: DecoderFormat;
  /** Schema file in schemas/ ('avro' needs it; 'avro-confluent' reads the id from each message). */
  schema?: string;
  eventTime: (value: T) => number;
  /** How far behind the largest event time seen a partition's watermark trails. Default 5s. */
  outOfOrderness?: Duration;
  /**
   * A partition that delivers nothing for this long (wall-clock time) is left out of the
   * watermark until it delivers again, so an empty partition cannot hold windows open for ever.
   * Default 30s; `false` or 0 disables it.
   */
  idleTimeout?: Duration | false;
  /** Where a new consumer group starts. Default true (the whole topic). */
  fromBeginning?: boolean;
  /**
   * When the offset a partition resumes from (checkpoint, committed offset, or this process's
   * own position) is no longer in the log, e.g. retention deleted records not yet read: 'fail'
   * stops with the partitions, offset ranges and counts; 'earliest' continues from the first
   * record still held, 'latest' from the end (a checkpoint in the gap is discarded). Every gap is
   * logged and counted in tributary_records_lost_total. Default 'fail' with durable window state
   * (TRIBUTARY_WINDOW_STATE=redis), else 'earliest'. TRIBUTARY_ON_OFFSET_GAP overrides it.
   */
  onOffsetGap?: OffsetGapPolicy;
  consumer?: Partial<Omit<ConsumerOptions, 'groupId'>>;
  /** Replaces kafkajs (tests, other clients). */
  client?: (brokers: string[], environment: SourceEnvironment) => KafkaClient;
}
