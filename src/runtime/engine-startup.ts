import { Subject } from 'rxjs';
import { ConfigError } from '../core/errors.ts';
import { EventTimeClock } from '../core/event-time-clock.ts';
import type { MemoryBudget } from '../core/memory-budget.ts';
import { sealedCheckpoints } from '../governance/checkpoint-seal.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Readiness } from '../observability/readiness.ts';
import { startTracing } from '../observability/tracing/start-tracing.ts';
import { SchemaRegistryResolver } from '../serde/registry-resolver.ts';
import { LocalSchemaRegistry } from '../serde/schema-registry.ts';
import type { SourceContext } from '../sources/source.ts';
import type { EngineConfig } from '../topology/config.ts';
import { buildOutputs, type AnyTopology } from '../topology/define-topology.ts';
import { analystTables } from './analyst-tables.ts';
import type { BatchQueue } from './batch-queue.ts';
import { BatchRouter } from './batch-router.ts';
import type { EngineAudit } from './engine-audit.ts';
import type { EngineOptions } from './engine-options.ts';
import type { EngineParts } from './engine-parts.ts';
import type { EngineStats } from './engine-stats.ts';
import type { RuntimeEnvironment } from './environment.ts';
import { startDashboardStats, startHttpEndpoint } from './http-endpoint.ts';
import { IdleTicks } from './idle-ticks.ts';
import { modelQuality, startModels } from './models.ts';
import { PartitionTasks } from './partition-tasks.ts';
import type { SinkGovernor } from './sink-governor.ts';
import type { SinkSet } from './sink-set.ts';
import { startTables } from './tables.ts';
import { openWindowState } from './window-state.ts';

/** Longest a storage write waits behind a window close's pushes (DeferredWrites). */
const STORAGE_WRITE_MAX_DELAY_MS = 250;

/** The engine as start-up sees it: what the constructor built, and the hooks back into it. */
export interface EngineHost {
  topology: AnyTopology;
  config: EngineConfig;
  logger: Logger;
  metrics: Metrics;
  audit: EngineAudit;
  environment: RuntimeEnvironment;
  readiness: Readiness;
  governor: SinkGovernor;
  sinks: SinkSet;
  memory: MemoryBudget;
  queue: BatchQueue;
  /** Filled in here, step by step. */
  parts: EngineParts;
  fail: (error: unknown) => void;
  stats: () => EngineStats;
  sourceContext: () => SourceContext<unknown>;
  /** Whether idleness ticks are still wanted (not stopping, input not ended). */
  acceptingIdleTicks: () => boolean;
  /** Starts the process loop; called once everything it uses exists. */
  startProcessing: () => void;
}

/**
 * Opens everything a topology runs on, in dependency order: audit, HTTP endpoint, tracing, sinks,
 * source, partition tasks, window state, tables, models, the process loop, and last the source.
 */
export async function startEngine(host: EngineHost, options: EngineOptions): Promise<void> {
  const { config, logger, topology, metrics, environment, governor, sinks, readiness, audit, memory, parts } = host;
  const spec = options.source ?? (config.kafkaBrokers ? topology.source : topology.demoSource);
  if (!spec) throw new ConfigError('KAFKA_BROKERS', `topology "${topology.name}" has no demoSource, so it needs a broker`, 'set KAFKA_BROKERS=host:port or add a demoSource to the topology');
  await audit.starting(); // first: an engine that cannot be audited does not start
  if (options.push ?? false) {
    parts.server = await startHttpEndpoint({ config, logger, metrics, topology: topology.name, readiness, state: () => environment.sinkEnvironment.state(), stateKey: (key) => governor.stateKey(key), audit: audit.trail, analystTables: analystTables(topology), ...(governor.active ? { keyring: () => environment.keyring() } : {}) });
    environment.pushServer = parts.server;
  }
  // Each partition gets its own pipeline instance on its first batch; build one now so a
  // pipeline that does not match the sinks fails at start, not at the first record.
  buildOutputs(topology, new Subject<never>());
  parts.tracer = await startTracing(config.tracing, logger, `tributary-${topology.name}`);
  const tracer = parts.tracer;
  const schemaRegistry = topology.schemaRegistry ? (environment.schemaRegistry = new SchemaRegistryResolver(topology.schemaRegistry.url, LocalSchemaRegistry.fromDirectory(config.schemasDir), logger)) : undefined;
  await sinks.open();
  readiness.sinksOpened();
  const clock = (parts.clock = new EventTimeClock(spec.outOfOrdernessMs, { idleTimeoutMs: spec.idleTimeoutMs }));
  const durable = config.windowState === 'redis';
  const groupId = config.groupId ?? `tributary-${topology.name}`;
  // Created (not started) first: its clock is the processing time of contracts, freshness and scoring.
  const source = (parts.source = spec.create({
    topology: topology.name,
    logger,
    metrics,
    schemasDir: config.schemasDir,
    kafkaBrokers: config.kafkaBrokers,
    kafkaSecurity: config.kafkaSecurity,
    kafkaClient: config.kafkaClient,
    groupId,
    commitIntervalMs: config.commitIntervalMs,
    maxChunkRecords: Math.max(1, Math.min(5_000, Math.floor(config.maxInFlightRecords / 4))),
    maxChunkBytes: Math.max(1, Math.floor(memory.maxInFlightBytes / 4)),
    fetch: { maxBytes: memory.fetchMaxBytes, maxBytesPerPartition: memory.fetchMaxBytesPerPartition },
    durableState: durable,
    onOffsetGap: config.onOffsetGap,
    tracer,
    audit: audit.trail, // lost records as kafka.offset_gap entries
    schemaRegistry,
  }));
  const processingTime = source.processingTime ? () => source.processingTime!() : undefined;
  sinks.processingTime = processingTime;
  const tasks = (parts.tasks = new PartitionTasks({ topology, sinks, clock, logger, metrics, durable, maxOpenWindows: config.maxOpenWindows, processingTime, onError: (error) => host.fail(error), origin: options.origin, tracer, kafka: config.kafkaBrokers ? { client: () => environment.sinkEnvironment.kafkaClient!(), groupId } : undefined }));
  // Pushes first: storage writes wait while a burst of closed windows is being scored (or a
  // fetched batch waits), a quarter of a second at most.
  sinks.deferStorageWrites({ busy: () => host.queue.buffer.size > 0 || tasks.busy(), maxDelayMs: STORAGE_WRITE_MAX_DELAY_MS, onError: (error) => host.fail(error) });
  const checkpointer = (parts.checkpointer = tasks.checkpointer = await openWindowState({ config, logger, metrics, topology: topology.name, groupId, spec, clock, tasks, outputs: environment.transactionalOutputs, ...(governor.active ? { codec: async () => sealedCheckpoints(await environment.keyring()) } : {}) }));
  parts.router = new BatchRouter({ tasks, clock, sinks, checkpointer, metrics, topology: topology.name, contract: topology.contract, processingTime });
  parts.idleTicks = new IdleTicks(spec.idleTimeoutMs ?? 0, () => host.queue.pushIdleTick(), host.acceptingIdleTicks);
  const clickhouse = environment.sinkEnvironment.clickhouse;
  parts.tables = await startTables(topology, { topology: topology.name, logger, metrics, schemasDir: config.schemasDir, kafkaBrokers: config.kafkaBrokers, kafkaSecurity: config.kafkaSecurity, groupId, clickhouse });
  parts.models = await startModels(topology, { clickhouse, logger, modelDirectory: config.modelDirectory, pollIntervalMs: config.modelPollIntervalMs, audit: { trail: audit.trail, principal: `engine:${topology.name}` }, metrics, topology: topology.name, origin: options.origin });
  audit.attachClickHouse(environment);
  host.startProcessing();
  if (parts.server) {
    parts.statsPublisher = startDashboardStats({ server: parts.server, topology: topology.name, source: source.description, metrics, engine: host.stats, sinks: () => sinks.describe(), quality: () => modelQuality(topology) });
  }
  await source.start(host.sourceContext());
  readiness.sourceStarted();
  readiness.engineStarted();
  logger.info({ source: source.description, maxInFlight: config.maxInFlightRecords }, `topology ${topology.name} running`);
}
