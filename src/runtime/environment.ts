import type { ClickHouseClient } from '@clickhouse/client';
import { connectClickHouse } from '../clickhouse/connection.ts';
import type { SinkEnvironment, TransactionalOutput } from '../sinks/sink.ts';
import type { KeyValueStore } from '../state/key-value-store.ts';
import { MemoryKeyValueStore } from '../state/memory-store.ts';
import { RedisKeyValueStore } from '../state/redis-store.ts';
import type { PushServer } from '../sinks/push-port.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EngineConfig } from '../topology/config.ts';
import { clickhouseTarget, redisTarget } from '../topology/connection-config.ts';
import { ConfigError } from '../core/errors.ts';
import { createKafkaClient } from '../kafka/create-kafka-client.ts';
import type { KafkaClient, Producer } from '../kafka/kafka-client.ts';
import type { SchemaRegistryClient } from '../serde/schema-resolver.ts';
import { Keyring } from '../governance/keyring.ts';
import { openKeyStore } from './key-store-config.ts';

/** Where a topology's hot state lives in Redis: every key starts with it. */
export function stateStorePrefix(topology: string): string {
  return `tributary:${topology}:`;
}

/**
 * The services sinks use, each created on first use and shared: a topology without ClickHouse
 * sinks never opens chDB, one without Redis state never connects to Redis.
 */
export class RuntimeEnvironment {
  private clickhouseClient: Promise<ClickHouseClient> | null = null;
  private stateStore: Promise<KeyValueStore> | null = null;
  private producer: Promise<Producer> | null = null;
  private keys: Promise<Keyring> | null = null;
  private kafka: KafkaClient | null = null;
  /** The topology's Schema Registry, set by the engine before the sinks open. */
  schemaRegistry: SchemaRegistryClient | undefined;
  pushServer: PushServer | undefined;
  readonly sinkEnvironment: SinkEnvironment;
  /** Outputs committed with the checkpoints (exactly-once Kafka topic sinks), registered as sinks are created. */
  readonly transactionalOutputs: TransactionalOutput[] = [];

  constructor(
    private readonly config: EngineConfig,
    topology: string,
    private readonly logger: Logger,
    metrics: Metrics,
    fail: (error: unknown) => void,
    origin = 'online',
  ) {
    this.sinkEnvironment = {
      topology,
      logger,
      metrics,
      schemasDir: config.schemasDir,
      clickhouse: () => (this.clickhouseClient ??= connectClickHouse({ ...clickhouseTarget(config), logger })),
      state: () => (this.stateStore ??= this.openState(topology, logger)),
      push: () => this.pushServer,
      kafkaProducer: () => (this.producer ??= this.connectProducer(topology, logger)),
      fail,
      origin,
      schemaRegistry: () => this.schemaRegistry,
      groupId: config.groupId ?? `tributary-${topology}`,
      kafkaClient: () => (this.kafka ??= this.createKafkaClient(topology, logger)),
      transactional: (output) => this.transactionalOutputs.push(output),
    };
  }

  private createKafkaClient(topology: string, logger: Logger): KafkaClient {
    const brokers = this.config.kafkaBrokers;
    if (!brokers) throw new ConfigError('KAFKA_BROKERS', 'a Kafka topic sink needs a broker', 'set KAFKA_BROKERS=host:port');
    return createKafkaClient({ brokers, clientId: `tributary-${topology}-sink`, logger, security: this.config.kafkaSecurity, kind: this.config.kafkaClient });
  }

  /** Data protection's keys (TRIBUTARY_KEY_STORE*), opened on first use and shared. */
  keyring(): Promise<Keyring> {
    return (this.keys ??= openKeyStore(this.config, this.logger).then((store) => Keyring.open(store, { masterKey: this.config.governance?.masterKey })));
  }

  /** The ClickHouse client if something (a sink, a served model) opened it, else undefined: never opens one. */
  get openedClickhouse(): Promise<ClickHouseClient> | undefined {
    return this.clickhouseClient ?? undefined;
  }

  private async openState(topology: string, logger: Logger): Promise<KeyValueStore> {
    const redis = redisTarget(this.config);
    if (!redis) return new MemoryKeyValueStore();
    return RedisKeyValueStore.connect(redis, { prefix: stateStorePrefix(topology), logger });
  }

  private async connectProducer(topology: string, logger: Logger): Promise<Producer> {
    const brokers = this.config.kafkaBrokers;
    if (!brokers) throw new ConfigError('KAFKA_BROKERS', 'a Kafka sink (dead-letter topic) needs a broker', 'set KAFKA_BROKERS=host:port or use a ClickHouse dead-letter table');
    const producer = createKafkaClient({ brokers, clientId: `tributary-${topology}-producer`, logger, security: this.config.kafkaSecurity, kind: this.config.kafkaClient }).producer();
    await producer.connect();
    return producer;
  }

  async close(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    if (this.producer) closing.push(this.producer.then((producer) => producer.disconnect()).catch(() => {}));
    if (this.clickhouseClient) closing.push(this.clickhouseClient.then((client) => client.close()).catch(() => {}));
    if (this.stateStore) closing.push(this.stateStore.then((store) => store.close()).catch(() => {}));
    if (this.keys) closing.push(this.keys.then((keyring) => keyring.close()).catch(() => {}));
    if (this.pushServer) closing.push(this.pushServer.close());
    await Promise.all(closing);
  }
}
