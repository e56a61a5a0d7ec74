/**
 * `tributary/engine`: running and embedding topologies from code. An Engine reads its
 * configuration from `options.config` (loadConfig() reads the environment when you ask it to),
 * opens the HTTP/WebSocket port only with `push: true`, and leaves RxJS's global error handler alone.
 */
export { Engine, type EngineOptions } from './runtime/engine.ts';
export type { EngineStats } from './runtime/engine-stats.ts';
export { loadConfig, type EngineConfig } from './topology/config.ts';
export type { ConnectionSecurity, KafkaSecurity, RedisSecurity, ClickHouseSecurity } from './topology/connection-config.ts';
export type { TlsSettings } from './core/tls-settings.ts';
export { readSecret } from './core/secret-setting.ts';
export { loadTopology } from './topology/load-topology.ts';
export { backfill, BACKFILL_ORIGIN, type BackfillRange, type BackfillOptions, type BackfillSummary } from './backfill/backfill.ts';
export { startPushServer } from './push/uws-push-server.ts';
export type { PushServer } from './sinks/push-port.ts';
export { connectClickHouse } from './clickhouse/connection.ts';
export type { KafkaClient, BatchConsumer, Producer, Admin } from './kafka/kafka-client.ts';
export { createKafkajsClient } from './kafka/kafkajs-client.ts';
export { createDecoder, type DecoderFormat } from './serde/create-decoder.ts';
export { createAvroEncoder } from './serde/avro.ts';
export { LocalSchemaRegistry } from './serde/schema-registry.ts';
export { StateUnavailableError, type KeyValueStore, type StateLookup } from './state/key-value-store.ts';
export { RedisKeyValueStore } from './state/redis-store.ts';
export type { RedisConnection } from './state/redis-connection.ts';
export { RedisCheckpointStore } from './state/redis-checkpoint-store.ts';
export type { PartitionCheckpoint, CheckpointStore } from './state/checkpoint-store.ts';
export { Metrics } from './observability/metrics.ts';
export { createLogger } from './observability/logger.ts';
