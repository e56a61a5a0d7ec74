/**
 * `tributary`: the topology DSL. Everything a topology module needs: defineTopology, sources,
 * operators and windows, scoring, lookup tables, sinks, and the types and errors they use.
 * Other entry points: `tributary/testing` (runOnArray, demo data), `tributary/ml` (model
 * lifecycle), `tributary/engine` (running and embedding), `tributary/client` (WebSocket client).
 * Modules not re-exported by an entry point are internal and may change.
 */

// Topologies
export { defineTopology, type TopologyDefinition, type PipelineOutputs } from './topology/define-topology.ts';
export { defineFeatureSet, type FeatureSet, type FeatureSetDefinition } from './features/feature-set.ts';
export type { LifecycleSpec } from './features/lifecycle-spec.ts';
export type { FreshnessSlo, FreshnessSlos } from './topology/freshness.ts';

// Data contracts (checked on every record before the pipeline)
export { defineContract, DataContract, type ContractDefinition } from './contracts/define-contract.ts';
export { required, range, oneOf, matches, notInFuture, check } from './contracts/rules.ts';
export type { ContractRule, ContractContext } from './contracts/contract-rule.ts';
export type { ContractViolation } from './contracts/contract-check.ts';

// Records, durations and errors
export type { Batch, StreamRecord, DeadLetter, LateRecord } from './core/batch.ts';
export { toMillis, type Duration } from './core/duration.ts';
export { TributaryError, ConfigError, DecodeError, ConnectionError, SinkError, ScoringError, StateLimitError, OffsetGapError } from './core/errors.ts';

// Sources
export { kafkaTopic, type KafkaTopicOptions } from './sources/kafka/kafka-source.ts';
export type { OffsetGapPolicy } from './sources/kafka/offset-gaps.ts';
export { generatorSource, type GeneratorOptions } from './sources/generator/generator-source.ts';
export type { SourceSpec } from './sources/source.ts';

// Operators and windows
export { map } from './operators/map.ts';
export { repartition, type RepartitionOptions } from './operators/repartition.ts';
export { filter } from './operators/filter.ts';
export { keyBy } from './operators/key-by.ts';
export { tumbling } from './operators/windows/tumbling.ts';
export { hopping } from './operators/windows/hopping.ts';
export { sliding, type SlidingOptions } from './operators/windows/sliding.ts';
export { sessionWindows, type SessionWindowOptions } from './operators/windows/session.ts';
export { aggregate, type WindowResult, type Windowed, type WindowRevision, type Revised } from './operators/windows/aggregate.ts';
export type { EmitMode, WindowOptions } from './operators/windows/window-spec.ts';
export { count, sum, min, max, avg, last, first, stddev, distinctCount, type Aggregation } from './operators/windows/aggregations.ts';
export { quantiles, approxDistinct, topK, quantileKey, hyperLogLogStandardError, type QuantilesOptions, type ApproxDistinctOptions, type TopKOptions } from './operators/windows/sketch-aggregations.ts';
export { joinWindows } from './operators/windows/join-windows.ts';
export { intervalJoin, type IntervalJoinOptions } from './operators/interval-join.ts';
export { enrich, type EnrichOptions } from './operators/enrich.ts';

// Scoring inside a pipeline
export { score, type ScoreOptions } from './operators/score.ts';
export { servedModel, type ServedModelOptions } from './scoring/served-model.ts';
export type { DriftOptions } from './scoring/drift-monitor.ts';
export { CircuitOpenError, type CircuitBreakerOptions, type CircuitState } from './scoring/circuit-breaker.ts';
export type { ScoreSource, FallbackRow, FallbackReason, FallbackReasonKind, Fallback } from './scoring/fallback.ts';
export { StaleInputsError } from './scoring/freshness-gate.ts';
export type { Challenger } from './scoring/assignment-scoring.ts';
export type { ScoringModel } from './scoring/scoring-model.ts';

// Lookup tables (stream-table enrichment)
export { lookupTable, type LookupTable, type LookupTableOptions } from './tables/lookup-table.ts';
export { kafkaTable, type KafkaTableOptions } from './tables/kafka-table.ts';
export { batchPredictionTable } from './tables/clickhouse-table-source.ts';
export type { BatchPrediction } from './tables/batch-predictions-table.ts';
export type { TableSource, TableEnvironment, RunningTableSource } from './tables/table-source.ts';

// Sinks
export { clickhouseTable, type ClickHouseTableOptions } from './sinks/clickhouse/table-sink.ts';
export { clickhouseDeadLetters } from './sinks/clickhouse/dead-letter-table.ts';
export { clickhouseLateRecords } from './sinks/clickhouse/late-table.ts';
export { clickhouseQuarantine } from './sinks/clickhouse/quarantine-table.ts';
export { withRollups, countDistinct, countDistinctIf, countRows, maxOf, minOf, sumOf, type RollupDefinition, type RollupMeasure } from './sinks/clickhouse/rollup-sink.ts';
export { websocketChannel } from './sinks/websocket-channel.ts';
export { kafkaDeadLetters } from './sinks/kafka/dead-letter-topic.ts';
export { kafkaTopicSink, type KafkaTopicSinkOptions, type KafkaDelivery } from './sinks/kafka/topic-sink.ts';
export { onlineState, type OnlineStateOptions, type OnlineStateValue } from './sinks/online-state.ts';

// Data protection (README "Data protection"): tags come from the schemas, policies from here
export type { TopologyGovernance } from './governance/governance-spec.ts';
export type { PiiTag } from './governance/tags.ts';
export type { Policy, FieldPolicy, RawPolicy, Generalization, Destination, PolicyTable, DestinationPolicies } from './governance/policies.ts';
export { inClear } from './governance/in-clear.ts';

// Extension points: custom sinks and stateful operators
export type { Sink, SinkSpec, SinkEnvironment } from './sinks/sink.ts';
export { BatchingSink } from './sinks/batching-sink.ts';
export { StateRegistry, type StatefulStep, type AsyncStep } from './core/step-state.ts';
