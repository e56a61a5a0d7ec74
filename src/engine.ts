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
export { auditParity, type ParityOptions, type ParityReport } from './backfill/parity-audit.ts';
export type { ParityDifference } from './backfill/parity-compare.ts';
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

// Data protection, admin side: reading tokens and dead letters, key stores, erasure
export { detokenize, detokenizeAll, openDeadLetter, type AdminKeyOptions } from './governance/detokenize.ts';
export type { KeyStore } from './governance/key-store.ts';
export { FileKeyStore } from './governance/file-key-store.ts';
export { RedisKeyStore, type RedisKeyStoreOptions } from './governance/redis-key-store.ts';
export { Keyring, type KeyringOptions } from './governance/keyring.ts';
export { parseMasterKey } from './governance/master-key.ts';
export { eraseTopologySubjects, type EraseOptions, type EraseSummary } from './runtime/erase-subjects.ts';
export type { ErasureReport } from './governance/erase.ts';
export { openKeyStore } from './runtime/key-store-config.ts';
export type { GovernanceConfig } from './topology/governance-config.ts';
