import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Subject } from 'rxjs';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import type { RunningPushServer } from '../push/uws-push-server.ts';
import type { Source, SourceBatch, SourceContext } from '../sources/source.ts';
import { defaultConfig, type EngineConfig } from '../topology/config.ts';
import { buildOutputs, type AnyTopology } from '../topology/define-topology.ts';
import { EventTimeClock } from '../core/event-time-clock.ts';
import { InFlightBuffer } from './in-flight-buffer.ts';
import { loadMemoryBudget, type MemoryBudget } from '../core/memory-budget.ts';
import { registerMemoryGauges } from '../observability/process-memory.ts';
import { RuntimeEnvironment } from './environment.ts';
import { SinkSet } from './sink-set.ts';
import { SinkGovernor } from './sink-governor.ts';
import { sealedCheckpoints } from '../governance/checkpoint-seal.ts';
import { startTables, type RunningTables } from './tables.ts';
import { modelQuality, startModels, type RunningModels } from './models.ts';
import type { Checkpointer } from './checkpointer.ts';
import { PartitionTasks } from './partition-tasks.ts';
import { BatchRouter } from './batch-router.ts';
import type { StatsPublisher } from './stats-publisher.ts';
import { startDashboardStats, startHttpEndpoint } from './http-endpoint.ts';
import { analystTables } from './analyst-tables.ts';
import { Readiness } from '../observability/readiness.ts';
import type { EngineStats } from './engine-stats.ts';
import type { EngineOptions } from './engine-options.ts';
import { openWindowState } from './window-state.ts';
import { IdleTicks } from './idle-ticks.ts';
import { startTracing } from '../observability/tracing/start-tracing.ts';
import type { PipelineTracer } from '../observability/tracing/pipeline-tracer.ts';
import { EngineAudit } from './engine-audit.ts';
import { SchemaRegistryResolver } from '../serde/registry-resolver.ts';
import { LocalSchemaRegistry } from '../serde/schema-registry.ts';

export type { EngineOptions } from './engine-options.ts';

interface QueuedBatch {
  /** null: an idleness tick, queued so it keeps its place behind the batches before it. */
  batch: SourceBatch<unknown> | null;
  size: number;
  /** Encoded bytes of the batch's records, when the source knows them. */
  bytes?: number;
  /** performance.now() when it was queued: where its processing latency starts. */
  arrivedAt: number;
}

/**
 * Runs one topology: source → bounded in-flight buffer → pipeline → sinks, with event-time
 * watermarks and acknowledgement-driven offset commits. Fetching waits when the buffer is full;
 * processing waits when a sink is full; so memory stays bounded when anything downstream is slow.
 */
export class Engine {
  readonly topology: AnyTopology;
  readonly config: EngineConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly environment: RuntimeEnvironment;
  /** What GET /readyz answers. */
  readonly readiness = new Readiness();
  /** The audit trail of this engine and of everything it runs (SQL endpoint, WebSocket auth, model bootstrap). */
  readonly audit: EngineAudit;
  /** Resolves when a bounded source has been fully processed and flushed; rejects on a fatal error. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;
  private readonly buffer: InFlightBuffer<QueuedBatch>;
  private readonly memory: MemoryBudget;
  private readonly sinks: SinkSet;
  /** Data protection: checks the sinks against the topology's policies and masks their rows. */
  private readonly governor: SinkGovernor;
  private clock!: EventTimeClock;
  private idleTicks: IdleTicks | null = null;
  private source!: Source<unknown>;
  private tables: RunningTables | null = null;
  private models: RunningModels | null = null;
  private tasks!: PartitionTasks;
  private router!: BatchRouter;
  private server: RunningPushServer | null = null;
  private statsPublisher: StatsPublisher | null = null;
  /** Durable window state only. */
  private checkpointer: Checkpointer | null = null;
  private processLoop: Promise<void> = Promise.resolve();
  private fetchBlocked = 0;
  private sinkWaits = 0;
  private stopping: Promise<void> | null = null;
  /** What stop() is doing now, for a shutdown that overruns its deadline. */
  private stopPhase = 'running';
  private ended = false;
  /** Tracing on (config.tracing): the OpenTelemetry SDK behind the port; undefined costs a check per batch. */
  private tracer: PipelineTracer | undefined;

  private constructor(topology: AnyTopology, options: EngineOptions) {
    this.topology = topology;
    // The environment is read only when the caller asks for it (loadConfig()): an engine embedded
    // in an application takes its settings from code, or the defaults.
    this.config = options.config ?? defaultConfig();
    this.logger = options.logger ?? createLogger(`tributary:${topology.name}`);
    this.metrics = options.metrics ?? new Metrics({ defaultMetrics: true });
    this.audit = new EngineAudit(this.config, topology.name, options.audit ?? {}, this.logger, this.metrics);
    this.environment = new RuntimeEnvironment(this.config, topology.name, this.logger, this.metrics, (error) => this.fail(error), options.origin);
    this.memory = this.config.memory ?? loadMemoryBudget({});
    this.buffer = new InFlightBuffer(this.config.maxInFlightRecords, this.memory.maxInFlightBytes);
    registerMemoryGauges(this.metrics.registry, { topology: topology.name, budgetBytes: this.memory.memoryMb * 2 ** 20, inFlightBytes: () => this.buffer.bytes });
    // Throws a ConfigError here, before anything starts, when a tagged field reaches a sink with no policy.
    this.governor = new SinkGovernor(topology, this.config.schemasDir, () => this.environment.keyring());
    this.sinks = new SinkSet(topology, this.environment.sinkEnvironment, this.governor);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {}); // observed through `done` by callers that care
  }

  static async start(topology: AnyTopology, options: EngineOptions = {}): Promise<Engine> {
    const engine = new Engine(topology, options);
    try {
      await engine.startAll(options);
    } catch (error) {
      // Release what did start (port, chDB lock, connections) so the caller can retry or exit.
      engine.audit.failed(error);
      await engine.stop().catch(() => {});
      throw error;
    }
    return engine;
  }

  private async startAll(options: EngineOptions): Promise<void> {
    const { config, logger, topology } = this;
    const spec = options.source ?? (config.kafkaBrokers ? topology.source : topology.demoSource);
    if (!spec) throw new ConfigError('KAFKA_BROKERS', `topology "${topology.name}" has no demoSource, so it needs a broker`, 'set KAFKA_BROKERS=host:port or add a demoSource to the topology');
    await this.audit.starting(); // first: an engine that cannot be audited does not start
    if (options.push ?? false) {
      this.server = await startHttpEndpoint({ config, logger, metrics: this.metrics, topology: topology.name, readiness: this.readiness, state: () => this.environment.sinkEnvironment.state(), stateKey: (key) => this.governor.stateKey(key), audit: this.audit.trail, analystTables: analystTables(topology), ...(this.governor.active ? { keyring: () => this.environment.keyring() } : {}) });
      this.environment.pushServer = this.server;
    }
    // Each partition gets its own pipeline instance on its first batch; build one now so a
    // pipeline that does not match the sinks fails at start, not at the first record.
    buildOutputs(topology, new Subject<never>());
    this.tracer = await startTracing(config.tracing, logger, `tributary-${topology.name}`);
    const schemaRegistry = topology.schemaRegistry ? (this.environment.schemaRegistry = new SchemaRegistryResolver(topology.schemaRegistry.url, LocalSchemaRegistry.fromDirectory(config.schemasDir), logger)) : undefined;
    await this.sinks.open();
    this.readiness.sinksOpened();
    this.clock = new EventTimeClock(spec.outOfOrdernessMs, { idleTimeoutMs: spec.idleTimeoutMs });
    const durable = config.windowState === 'redis';
    const groupId = config.groupId ?? `tributary-${topology.name}`;
    // Created (not started) first: its clock is the processing time of contracts, freshness and scoring.
    this.source = spec.create({
      topology: topology.name,
      logger,
      metrics: this.metrics,
      schemasDir: config.schemasDir,
      kafkaBrokers: config.kafkaBrokers,
      kafkaSecurity: config.kafkaSecurity,
      groupId,
      commitIntervalMs: config.commitIntervalMs,
      maxChunkRecords: Math.max(1, Math.min(5_000, Math.floor(config.maxInFlightRecords / 4))),
      maxChunkBytes: Math.max(1, Math.floor(this.memory.maxInFlightBytes / 4)),
      fetch: { maxBytes: this.memory.fetchMaxBytes, maxBytesPerPartition: this.memory.fetchMaxBytesPerPartition },
      durableState: durable,
      onOffsetGap: config.onOffsetGap,
      tracer: this.tracer,
      audit: this.audit.trail, // lost records as kafka.offset_gap entries
      schemaRegistry,
    });
    const source = this.source;
    const processingTime = source.processingTime ? () => source.processingTime!() : undefined;
    this.sinks.processingTime = processingTime;
    this.tasks = new PartitionTasks({ topology, sinks: this.sinks, clock: this.clock, logger, metrics: this.metrics, durable, maxOpenWindows: config.maxOpenWindows, processingTime, onError: (error) => this.fail(error), origin: options.origin, tracer: this.tracer, kafka: config.kafkaBrokers ? { client: () => this.environment.sinkEnvironment.kafkaClient!(), groupId } : undefined });
    this.checkpointer = this.tasks.checkpointer = await openWindowState({ config, logger, metrics: this.metrics, topology: topology.name, groupId, spec, clock: this.clock, tasks: this.tasks, outputs: this.environment.transactionalOutputs, ...(this.governor.active ? { codec: async () => sealedCheckpoints(await this.environment.keyring()) } : {}) });
    this.router = new BatchRouter({ tasks: this.tasks, clock: this.clock, sinks: this.sinks, checkpointer: this.checkpointer, metrics: this.metrics, topology: topology.name, contract: topology.contract, processingTime });
    this.idleTicks = new IdleTicks(spec.idleTimeoutMs ?? 0, () => this.buffer.push({ batch: null, size: 0, arrivedAt: performance.now() }), () => !this.stopping && !this.ended);
    const clickhouse = this.environment.sinkEnvironment.clickhouse;
    this.tables = await startTables(topology, { topology: topology.name, logger, metrics: this.metrics, schemasDir: config.schemasDir, kafkaBrokers: config.kafkaBrokers, kafkaSecurity: config.kafkaSecurity, groupId, clickhouse });
    this.models = await startModels(topology, { clickhouse, logger, modelDirectory: config.modelDirectory, pollIntervalMs: config.modelPollIntervalMs, audit: { trail: this.audit.trail, principal: `engine:${topology.name}` }, metrics: this.metrics, topology: topology.name, origin: options.origin });
    this.audit.attachClickHouse(this.environment);
    this.processLoop = this.runProcessLoop();
    if (this.server) {
      this.statsPublisher = startDashboardStats({ server: this.server, topology: topology.name, source: this.source.description, metrics: this.metrics, engine: () => this.stats(), sinks: () => this.sinks.describe(), quality: () => modelQuality(topology) });
    }
    await this.source.start(this.sourceContext());
    this.readiness.sourceStarted();
    this.readiness.engineStarted();
    logger.info({ source: this.source.description, maxInFlight: config.maxInFlightRecords }, `topology ${topology.name} running`);
  }

  private sourceContext(): SourceContext<unknown> {
    return {
      logger: this.logger,
      metrics: this.metrics,
      topology: this.topology.name,
      push: (batch, keepAlive) => this.admit(batch, keepAlive),
      assigned: (keys) => {
        this.tasks.assign(keys);
        this.readiness.assigned(keys.length);
      },
      prepare: (key) => this.tasks.prepare(key),
      checkpointOffset: this.checkpointer ? (key) => this.checkpointer!.peekOffset(key) : undefined,
      discardCheckpoint: (key) => this.tasks.discard(key),
      fail: (error) => this.fail(error),
      end: () => {
        this.ended = true;
        this.buffer.close();
      },
      commitGate: this.checkpointer ? (acknowledged) => this.checkpointer!.commitGate(acknowledged) : undefined,
    };
  }

  /** Queues a source batch, waiting (and keeping the consumer alive) while the buffer is full. */
  private async admit(batch: SourceBatch<unknown>, keepAlive?: () => Promise<void>): Promise<void> {
    const size = Math.max(1, batch.records.length + batch.deadLetters.length);
    const bytes = batch.bytes ?? 0;
    if (!this.buffer.hasRoomFor(size, bytes)) {
      this.fetchBlocked++;
      this.metrics.fetchBlocked.inc({ topology: this.topology.name });
      this.clock.pauseIdleness(); // the source is held back, not silent: this wait is no idleness
      // Wake at least every second to keep the Kafka group membership alive while waiting.
      try {
        while (!(await this.buffer.waitForRoom(size, 1_000, bytes))) if (keepAlive) await keepAlive();
      } finally {
        this.clock.resumeIdleness();
      }
    }
    if (batch.records.length > 0) this.clock.touch(batch.partitionKey); // queued records: not idle
    this.buffer.push({ batch, size, bytes, arrivedAt: performance.now() });
    this.metrics.recordsIn.inc({ topology: this.topology.name }, size);
    this.metrics.inFlightRecords.set({ topology: this.topology.name }, this.buffer.size);
  }

  private async runProcessLoop(): Promise<void> {
    let lastYield = performance.now();
    for (;;) {
      const item = await this.buffer.take();
      if (item === null) break;
      // Queued batches resolve as microtasks, which starve timers and I/O (model results, sink
      // acknowledgements, commits, heartbeats, WebSocket sends): a turn every 5 ms and after a close.
      if (performance.now() - lastYield > 5 || this.router.takeClosed()) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (this.sinks.isFull()) {
        this.sinkWaits++;
        await this.sinks.whenReady();
      }
      try {
        if (item.batch) this.router.process(item.batch, item.arrivedAt);
        else {
          this.idleTicks?.taken();
          this.router.idleTick();
        }
        if (this.checkpointer?.due) await this.checkpointer.capture();
      } catch (error) {
        this.fail(error);
      }
      this.buffer.release(item.size, item.bytes);
      this.metrics.inFlightRecords.set({ topology: this.topology.name }, this.buffer.size);
    }
    if (this.ended && !this.stopping) await this.finishBoundedInput();
  }

  /** End of a bounded input: close every window, let async steps finish, flush sinks. */
  private async finishBoundedInput(): Promise<void> {
    try {
      await this.router.finish();
      await this.sinks.flush();
      this.resolveDone();
    } catch (error) {
      this.fail(error);
    }
  }

  stats(): EngineStats {
    return {
      inFlight: this.buffer.size,
      peakInFlight: this.buffer.highWaterMark,
      maxInFlight: this.buffer.capacity,
      fetchBlocked: this.fetchBlocked,
      sinkWaits: this.sinkWaits,
      processedRecords: this.router?.processedRecords ?? 0,
      watermark: this.clock?.watermark ?? -Infinity,
      routed: Object.fromEntries(this.sinks.routed),
    };
  }

  /** The step of stop() in progress ('running' before it, 'stopped' after). */
  get shutdownPhase(): string {
    return this.stopPhase;
  }

  /** The source, for tests that inspect it (group joins of a Kafka consumer). */
  get activeSource(): Source<unknown> {
    return this.source;
  }

  /**
   * Stops the engine because of `error`: `done` rejects with it, sinks are flushed as far as they
   * can be, and nothing after the last commit is committed. Called for every fatal error inside
   * the engine; a process that owns the engine (the CLI) also routes errors here that reach
   * RxJS's global handler, which the engine itself leaves alone.
   */
  fail(error: unknown): void {
    this.audit.failed(error);
    this.checkpointer?.abandon();
    this.readiness.stopped(`failed: ${errorMessage(error)}`);
    this.logger.error({ err: errorMessage(error) }, 'fatal error; stopping the engine');
    this.rejectDone(error);
    void this.stop().catch(() => {});
  }

  /**
   * Stops fetching, processes what was already fetched, flushes every sink, commits the offsets
   * they acknowledged and closes connections. Open windows are not emitted: in memory their
   * offsets were not committed, so a restart reads their records again; with durable state a
   * last checkpoint holds them and a restart continues them.
   */
  stop(): Promise<void> {
    this.readiness.stopped('stopping');
    this.idleTicks?.stop();
    this.statsPublisher?.stop();
    this.stopping ??= (async () => {
      this.stopPhase = 'stopping the source';
      await this.source?.stop().catch((error) => this.logger.warn({ err: errorMessage(error) }, 'source stop failed'));
      this.buffer.close();
      this.stopPhase = 'processing the records already fetched';
      await this.processLoop;
      // Durable state: a last capture, saved by the final commit once the sinks are flushed.
      this.stopPhase = 'capturing the last checkpoint (waiting for scoring)';
      await this.checkpointer?.capture().catch((error) => this.logger.error({ err: errorMessage(error) }, 'final checkpoint capture failed'));
      this.stopPhase = 'waiting for asynchronous steps (scoring)';
      await this.tasks?.complete();
      this.stopPhase = 'flushing sinks';
      await this.sinks.flush().catch((error) => this.logger.error({ err: errorMessage(error) }, 'final sink flush failed'));
      this.stopPhase = 'committing offsets';
      await this.source?.commit();
      this.stopPhase = 'closing connections';
      await this.source?.close().catch(() => {});
      await this.tables?.close().catch(() => {});
      await this.models?.close();
      await this.checkpointer?.close().catch(() => {});
      await this.sinks.close().catch(() => {});
      await this.server?.close(); // its last authentication-failure summaries go to the trail first
      await this.audit.stopped({ processedRecords: this.router?.processedRecords ?? 0 });
      await this.tracer?.shutdown().catch((error) => this.logger.warn({ err: errorMessage(error) }, 'exporting the last spans failed'));
      await this.environment.close();
      this.stopPhase = 'stopped';
      this.resolveDone();
      this.logger.info(this.stats(), `topology ${this.topology.name} stopped`);
    })();
    return this.stopping;
  }
}
