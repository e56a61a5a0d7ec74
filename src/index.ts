/**
 * Tributary's public API. Everything a topology author, a test or an embedding service needs is
 * exported here; modules not re-exported are internal and may change.
 */

// Topologies
export { defineTopology, type TopologyDefinition, type PipelineOutputs } from './topology/define-topology.ts';
export { runOnArray, type ArrayRunResult, type ArrayRunOptions } from './topology/run-on-array.ts';
export { loadConfig, type EngineConfig } from './topology/config.ts';
export { Engine, type EngineOptions } from './runtime/engine.ts';
export type { EngineStats } from './runtime/engine-stats.ts';

// Records and errors
export type { Batch, StreamRecord, DeadLetter, LateRecord } from './core/batch.ts';
export { TributaryError, ConfigError, DecodeError, ConnectionError, SinkError, ScoringError, StateLimitError } from './core/errors.ts';
export { toMillis, type Duration } from './core/duration.ts';

// Sources
export { kafkaTopic, type KafkaTopicOptions } from './sources/kafka/kafka-source.ts';
export { generatorSource, type GeneratorOptions } from './sources/generator/generator-source.ts';
export { CardPaymentModel, type Payment } from './sources/generator/card-payments.ts';
export type { KafkaClient, BatchConsumer, Producer, Admin } from './sources/kafka/kafka-client.ts';
export { createKafkajsClient } from './sources/kafka/kafkajs-client.ts';

// Operators
export { map } from './operators/map.ts';
export { filter } from './operators/filter.ts';
export { keyBy } from './operators/key-by.ts';
export { tumbling } from './operators/windows/tumbling.ts';
export { hopping } from './operators/windows/hopping.ts';
export { aggregate, type WindowResult, type Windowed, type WindowRevision, type Revised } from './operators/windows/aggregate.ts';
export { type EmitMode, type WindowOptions } from './operators/windows/window-spec.ts';
export { count, sum, min, max, avg, last, first, stddev, distinctCount, type Aggregation } from './operators/windows/aggregations.ts';
export { quantiles, approxDistinct, topK, quantileKey, hyperLogLogStandardError, type QuantilesOptions, type ApproxDistinctOptions, type TopKOptions } from './operators/windows/sketch-aggregations.ts';
export { joinWindows } from './operators/windows/join-windows.ts';
export { intervalJoin, type IntervalJoinOptions } from './operators/interval-join.ts';
export { sessionWindows, type SessionWindowOptions } from './operators/windows/session.ts';
export { sliding, type SlidingOptions } from './operators/windows/sliding.ts';
export { score, type ScoreOptions } from './operators/score.ts';
export { CircuitOpenError, type CircuitBreakerOptions, type CircuitState } from './scoring/circuit-breaker.ts';
export type { ScoreSource, FallbackRow, FallbackReason, Fallback } from './scoring/fallback.ts';
export { enrich, type EnrichOptions } from './operators/enrich.ts';

// Lookup tables (stream–table enrichment)
export { LookupTable, lookupTable, type LookupTableOptions } from './tables/lookup-table.ts';
export { kafkaTable, type KafkaTableOptions } from './tables/kafka-table.ts';
export type { TableSource, TableEnvironment, RunningTableSource } from './tables/table-source.ts';

// Scoring
export { OnnxModel } from './scoring/onnx-model.ts';
export type { ScoringModel } from './scoring/scoring-model.ts';
export { trainLogisticRegression, evaluate, predictProbability, type LogisticRegressionModel } from './scoring/logistic-regression.ts';
export { logisticRegressionToOnnx } from './scoring/logistic-regression-onnx.ts';
export { servedModel, ServedModel, type ServedModelOptions } from './scoring/served-model.ts';
export { inCanary, canaryBucket, type ModelServing, type ServingAssignment } from './scoring/model-serving.ts';
export type { Challenger } from './scoring/assignment-scoring.ts';

// Model lifecycle: feature sets, registry, batch scoring
export { defineFeatureSet, type FeatureSet, type FeatureSetDefinition } from './features/feature-set.ts';
export type { LifecycleSpec } from './topology/lifecycle-spec.ts';
export { MODEL_STATUSES, type ModelRegistry, type ModelVersion, type ModelStatus, type ModelMetrics, type NewModelVersion } from './registry/model-registry.ts';
export { clickhouseModelRegistry } from './registry/clickhouse-model-registry.ts';
export { promote, startCanary, startShadow, rollback, bootstrapLive, servingPlan } from './registry/lifecycle.ts';
export { compareModels, compareSql } from './registry/compare-report.ts';
export { writeModelFile, defaultModelDirectory, modelFilePath } from './registry/model-files.ts';
export { trainFromClickHouse } from './training/train-from-clickhouse.ts';
export { chargebackFor, chargebacksOf, type Chargeback } from './sources/generator/chargebacks.ts';
export { scoreBatch, batchPredictionKey, type ScoreBatchOptions, type ScoreBatchResult } from './batch/batch-scoring.ts';
export { batchPredictionTable } from './tables/clickhouse-table-source.ts';
export type { BatchPrediction } from './batch/batch-predictions-table.ts';

// Serde
export { createDecoder, type DecoderFormat } from './serde/create-decoder.ts';
export { createAvroEncoder } from './serde/avro.ts';
export { LocalSchemaRegistry } from './serde/schema-registry.ts';

// Sinks
export type { Sink, SinkSpec, SinkEnvironment } from './sinks/sink.ts';
export { BatchingSink } from './sinks/batching-sink.ts';
export { clickhouseTable, type ClickHouseTableOptions } from './sinks/clickhouse/table-sink.ts';
export { clickhouseDeadLetters } from './sinks/clickhouse/dead-letter-table.ts';
export { clickhouseLateRecords } from './sinks/clickhouse/late-table.ts';
export { connectClickHouse } from './sinks/clickhouse/connection.ts';
export { websocketChannel } from './sinks/websocket-channel.ts';
export { kafkaDeadLetters } from './sinks/kafka/dead-letter-topic.ts';
export { onlineState, type OnlineStateOptions, type OnlineStateValue } from './sinks/online-state.ts';

// State and push
export { StateUnavailableError, type KeyValueStore, type StateLookup } from './state/key-value-store.ts';
export { MemoryKeyValueStore } from './state/memory-store.ts';
export { RedisKeyValueStore } from './state/redis-store.ts';
// Durable window state: the hooks a custom stateful operator implements, and checkpoint stores
export { StateRegistry, type StatefulStep, type AsyncStep } from './state/step-state.ts';
export { MemoryCheckpointStore, type PartitionCheckpoint, type CheckpointStore } from './state/checkpoint-store.ts';
export { RedisCheckpointStore } from './state/redis-checkpoint-store.ts';
export { startPushServer } from './push/uws-push-server.ts';
export type { PushServer } from './push/push-server.ts';
export { TributaryClient, ChannelSubscription, CLOSE_CODES, type TributaryClientOptions, type SubscribeOptions, type WebSocketConstructor, type SubscriptionFilter, type DataMessage, type GapMessage } from './client/tributary-client.ts';
export { Metrics } from './observability/metrics.ts';
export { createLogger } from './observability/logger.ts';
