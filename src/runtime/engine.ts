import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Subject, config as rxConfig } from 'rxjs';
import { newSideOutputs, type Batch } from '../core/batch.ts';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { startPushServer } from '../push/uws-push-server.ts';
import type { Source, SourceBatch, SourceContext, SourceSpec } from '../sources/source.ts';
import { loadConfig, type EngineConfig } from '../topology/config.ts';
import { buildOutputs, type AnyTopology } from '../topology/define-topology.ts';
import { EventTimeClock } from './event-time-clock.ts';
import { InFlightBuffer } from './in-flight-buffer.ts';
import { RuntimeEnvironment } from './environment.ts';
import { SinkSet } from './sink-set.ts';
import { startTables, type RunningTables } from './tables.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { StateRegistry } from '../state/step-state.ts';
import { openWindowState } from './window-state.ts';

export interface EngineOptions {
  config?: EngineConfig;
  logger?: Logger;
  metrics?: Metrics;
  /** Serve the WebSocket endpoint and dashboard on config.port. Default true. */
  push?: boolean;
  /** Replaces the topology's source (tests, backfill). */
  source?: SourceSpec<unknown>;
}

export interface EngineStats {
  /** Records fetched and not yet through the pipeline. */
  inFlight: number;
  /** The most that were ever in flight at once. */
  peakInFlight: number;
  maxInFlight: number;
  /** Times the source had to wait for room (fetching stopped). */
  fetchBlocked: number;
  /** Times processing waited for a full sink. */
  sinkWaits: number;
  processedRecords: number;
  watermark: number;
  routed: Record<string, number>;
}

interface QueuedBatch {
  /** null: an idleness tick, queued so it keeps its place behind the batches before it. */
  batch: SourceBatch<unknown> | null;
  size: number;
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
  /** Resolves when a bounded source has been fully processed and flushed; rejects on a fatal error. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (error: unknown) => void;
  private readonly buffer: InFlightBuffer<QueuedBatch>;
  private readonly input = new Subject<Batch<unknown>>();
  private readonly sinks: SinkSet;
  private clock!: EventTimeClock;
  private idleTimer: NodeJS.Timeout | null = null;
  private tickQueued = false;
  private source!: Source<unknown>;
  private tables: RunningTables | null = null;
  private registry!: StateRegistry;
  /** Durable window state only. */
  private checkpointer: Checkpointer | null = null;
  private completions: Promise<void>[] = [];
  private processLoop: Promise<void> = Promise.resolve();
  private fetchBlocked = 0;
  private sinkWaits = 0;
  private processedRecords = 0;
  private stopping: Promise<void> | null = null;
  /** What stop() is doing now, for a shutdown that overruns its deadline. */
  private stopPhase = 'running';
  private ended = false;

  private constructor(topology: AnyTopology, options: EngineOptions) {
    this.topology = topology;
    this.config = options.config ?? loadConfig();
    this.logger = options.logger ?? createLogger(`tributary:${topology.name}`);
    this.metrics = options.metrics ?? new Metrics({ defaultMetrics: true });
    this.environment = new RuntimeEnvironment(this.config, topology.name, this.logger, this.metrics, (error) => this.fail(error));
    this.buffer = new InFlightBuffer(this.config.maxInFlightRecords);
    this.sinks = new SinkSet(topology, this.environment.sinkEnvironment);
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
      await engine.stop().catch(() => {});
      throw error;
    }
    return engine;
  }

  private async startAll(options: EngineOptions): Promise<void> {
    const { config, logger, topology } = this;
    const spec = options.source ?? (config.kafkaBrokers ? topology.source : topology.demoSource);
    if (!spec) throw new ConfigError('KAFKA_BROKERS', `topology "${topology.name}" has no demoSource, so it needs a broker`, 'set KAFKA_BROKERS=host:port or add a demoSource to the topology');
    rxConfig.onUnhandledError = (error) => this.fail(error);
    if (options.push ?? true) {
      const server = await startPushServer({ port: config.port, host: config.host, logger, metrics: this.metrics, topology: topology.name });
      this.environment.pushServer = server;
      logger.info({ url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}/` }, 'dashboard and WebSocket endpoint (/ws) listening');
    }
    await this.sinks.open();
    const outputs = buildOutputs(topology, this.input.asObservable());
    this.completions = this.sinks.connect(outputs, (error) => this.fail(error));
    this.clock = new EventTimeClock(spec.outOfOrdernessMs, { idleTimeoutMs: spec.idleTimeoutMs });
    const groupId = config.groupId ?? `tributary-${topology.name}`;
    ({ registry: this.registry, checkpointer: this.checkpointer } = await openWindowState({ config, logger, metrics: this.metrics, topology: topology.name, groupId, spec, clock: this.clock }));
    this.startIdleTicks(spec.idleTimeoutMs ?? 0);
    this.tables = await startTables(topology, { topology: topology.name, logger, metrics: this.metrics, schemasDir: config.schemasDir, kafkaBrokers: config.kafkaBrokers, groupId });
    this.source = spec.create({
      topology: topology.name,
      logger,
      metrics: this.metrics,
      schemasDir: config.schemasDir,
      kafkaBrokers: config.kafkaBrokers,
      groupId,
      commitIntervalMs: config.commitIntervalMs,
      maxChunkRecords: Math.max(1, Math.min(5_000, Math.floor(config.maxInFlightRecords / 4))),
      resumeFrom: this.checkpointer?.resumeFrom(),
    });
    this.processLoop = this.runProcessLoop();
    await this.source.start(this.sourceContext());
    logger.info({ source: this.source.description, maxInFlight: config.maxInFlightRecords }, `topology ${topology.name} running`);
  }

  private sourceContext(): SourceContext<unknown> {
    return {
      logger: this.logger,
      metrics: this.metrics,
      topology: this.topology.name,
      push: (batch, keepAlive) => this.admit(batch, keepAlive),
      assigned: (keys) => this.clock.assign(keys),
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
    if (!this.buffer.hasRoomFor(size)) {
      this.fetchBlocked++;
      this.metrics.fetchBlocked.inc({ topology: this.topology.name });
      this.clock.pauseIdleness(); // the source is held back, not silent: this wait is no idleness
      // Wake at least every second to keep the Kafka group membership alive while waiting.
      try {
        while (!(await this.buffer.waitForRoom(size, 1_000))) if (keepAlive) await keepAlive();
      } finally {
        this.clock.resumeIdleness();
      }
    }
    if (batch.records.length > 0) this.clock.touch(batch.partitionKey); // queued records: not idle
    this.buffer.push({ batch, size });
    this.metrics.recordsIn.inc({ topology: this.topology.name }, size);
    this.metrics.inFlightRecords.set({ topology: this.topology.name }, this.buffer.size);
  }

  private async runProcessLoop(): Promise<void> {
    let lastYield = performance.now();
    for (;;) {
      const item = await this.buffer.take();
      if (item === null) break;
      // Queued batches resolve as microtasks, which starve timers and I/O (model results, sink
      // acknowledgements, commits, heartbeats, WebSocket sends): give them a turn every 5 ms.
      if (performance.now() - lastYield > 5) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (this.sinks.isFull()) {
        this.sinkWaits++;
        await this.sinks.whenReady();
      }
      try {
        if (item.batch) this.process(item.batch);
        else this.idleTick();
        if (this.checkpointer?.due) await this.checkpointer.capture();
      } catch (error) {
        this.fail(error);
      }
      this.buffer.release(item.size);
      this.metrics.inFlightRecords.set({ topology: this.topology.name }, this.buffer.size);
    }
    if (this.ended && !this.stopping) await this.finishBoundedInput();
  }

  private process(sourceBatch: SourceBatch<unknown>): void {
    const watermark = sourceBatch.records.length > 0 ? this.clock.observe(sourceBatch.partitionKey, sourceBatch.maxEventTime) : this.clock.watermark;
    const batch: Batch<unknown> = { records: sourceBatch.records, watermark, acks: [sourceBatch.token], side: { late: [], deadLetters: sourceBatch.deadLetters, state: this.registry } };
    this.processedRecords += sourceBatch.records.length;
    this.sinks.route('raw', batch);
    this.input.next(batch);
    this.checkpointer?.noteProcessed(sourceBatch.token.partitionKey, sourceBatch.token.lastOffset);
    this.sinks.drainSideOutputs(batch.side, batch.acks);
    this.metrics.watermark.set({ topology: this.topology.name }, Number.isFinite(watermark) ? watermark : 0);
    sourceBatch.token.release();
  }

  /**
   * With an idle timeout, queues a tick every min(1 s, timeout / 2) so idleness is re-evaluated
   * even when nothing arrives. Ticks go through the in-flight buffer, not a timer callback: the
   * loop then applies them in order after the batches fetched before, and only when the sinks
   * have room (closing windows writes rows).
   */
  private startIdleTicks(idleTimeoutMs: number): void {
    if (idleTimeoutMs <= 0) return;
    this.idleTimer = setInterval(() => {
      if (this.tickQueued || this.stopping || this.ended) return;
      this.tickQueued = true;
      this.buffer.push({ batch: null, size: 0 });
    }, Math.max(10, Math.min(1_000, idleTimeoutMs / 2)));
    this.idleTimer.unref();
  }

  /** If idleness alone advanced the watermark, an empty batch carries it so windows close. */
  private idleTick(): void {
    this.tickQueued = false;
    const before = this.clock.watermark;
    const watermark = this.clock.tick();
    this.metrics.idlePartitions.set({ topology: this.topology.name }, this.clock.idlePartitions);
    if (!(watermark > before)) return;
    const batch: Batch<unknown> = { records: [], watermark, acks: [], side: { ...newSideOutputs(), state: this.registry } };
    this.input.next(batch);
    this.sinks.drainSideOutputs(batch.side, batch.acks);
    this.metrics.watermark.set({ topology: this.topology.name }, watermark);
  }

  /** End of a bounded input: close every window, let async steps finish, flush sinks. */
  private async finishBoundedInput(): Promise<void> {
    try {
      const side = { late: [], deadLetters: [], state: this.registry };
      this.input.next({ records: [], watermark: this.clock.finish(), acks: [], side });
      this.input.complete();
      await Promise.all(this.completions);
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
      processedRecords: this.processedRecords,
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

  private fail(error: unknown): void {
    this.checkpointer?.abandon();
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
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.stopping ??= (async () => {
      this.stopPhase = 'stopping the source';
      await this.source?.stop().catch((error) => this.logger.warn({ err: errorMessage(error) }, 'source stop failed'));
      this.buffer.close();
      this.stopPhase = 'processing the records already fetched';
      await this.processLoop;
      // Durable state: a last capture, saved by the final commit once the sinks are flushed.
      this.stopPhase = 'capturing the last checkpoint (waiting for scoring)';
      await this.checkpointer?.capture().catch((error) => this.logger.error({ err: errorMessage(error) }, 'final checkpoint capture failed'));
      if (!this.input.closed) this.input.complete();
      this.stopPhase = 'waiting for asynchronous steps (scoring)';
      await Promise.all(this.completions);
      this.stopPhase = 'flushing sinks';
      await this.sinks.flush().catch((error) => this.logger.error({ err: errorMessage(error) }, 'final sink flush failed'));
      this.stopPhase = 'committing offsets';
      await this.source?.commit();
      this.stopPhase = 'closing connections';
      await this.source?.close().catch(() => {});
      await this.tables?.close().catch(() => {});
      await this.checkpointer?.close().catch(() => {});
      await this.sinks.close().catch(() => {});
      await this.environment.close();
      this.stopPhase = 'stopped';
      this.resolveDone();
      this.logger.info(this.stats(), `topology ${this.topology.name} stopped`);
    })();
    return this.stopping;
  }
}
