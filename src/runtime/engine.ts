import { errorMessage } from '../core/errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import type { Source, SourceBatch, SourceContext } from '../sources/source.ts';
import { defaultConfig, type EngineConfig } from '../topology/config.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import { loadMemoryBudget, type MemoryBudget } from '../core/memory-budget.ts';
import { registerMemoryGauges } from '../observability/process-memory.ts';
import { RuntimeEnvironment } from './environment.ts';
import { SinkSet } from './sink-set.ts';
import { SinkGovernor } from './sink-governor.ts';
import { Readiness } from '../observability/readiness.ts';
import type { EngineStats } from './engine-stats.ts';
import type { EngineOptions } from './engine-options.ts';
import { EngineAudit } from './engine-audit.ts';
import { BatchQueue } from './batch-queue.ts';
import { emptyEngineParts, type EngineParts } from './engine-parts.ts';
import { startEngine } from './engine-startup.ts';
import { shutDownEngine } from './engine-shutdown.ts';

export type { EngineOptions } from './engine-options.ts';

/**
 * Runs one topology: source → bounded in-flight buffer → pipeline → sinks, with event-time
 * watermarks and acknowledgement-driven offset commits. Fetching waits when the buffer is full;
 * processing waits when a sink is full; so memory stays bounded when anything downstream is slow.
 * Start-up is engine-startup.ts, the queue and process loop batch-queue.ts, stop() engine-shutdown.ts.
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
  private readonly queue: BatchQueue;
  private readonly memory: MemoryBudget;
  private readonly sinks: SinkSet;
  /** Data protection: checks the sinks against the topology's policies and masks their rows. */
  private readonly governor: SinkGovernor;
  /** What start-up opened so far. */
  private readonly parts: EngineParts = emptyEngineParts();
  private processLoop: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  /** What stop() is doing now, for a shutdown that overruns its deadline. */
  private stopPhase = 'running';
  private ended = false;

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
    this.queue = new BatchQueue(topology.name, this.metrics, this.config.maxInFlightRecords, this.memory.maxInFlightBytes);
    registerMemoryGauges(this.metrics.registry, { topology: topology.name, budgetBytes: this.memory.memoryMb * 2 ** 20, inFlightBytes: () => this.queue.buffer.bytes });
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

  private startAll(options: EngineOptions): Promise<void> {
    const { topology, config, logger, metrics, audit, environment, readiness, governor, sinks, memory, queue, parts } = this;
    return startEngine(
      {
        topology, config, logger, metrics, audit, environment, readiness, governor, sinks, memory, queue, parts,
        fail: (error) => this.fail(error),
        stats: () => this.stats(),
        sourceContext: () => this.sourceContext(),
        acceptingIdleTicks: () => !this.stopping && !this.ended,
        startProcessing: () => {
          this.processLoop = this.runProcessLoop();
        },
      },
      options,
    );
  }

  private sourceContext(): SourceContext<unknown> {
    const { tasks, checkpointer } = this.parts;
    return {
      logger: this.logger,
      metrics: this.metrics,
      topology: this.topology.name,
      push: (batch, keepAlive) => this.admit(batch, keepAlive),
      assigned: (keys) => {
        tasks!.assign(keys);
        this.readiness.assigned(keys.length);
      },
      behind: (key) => this.parts.clock!.touch(key),
      prepare: (key) => tasks!.prepare(key),
      checkpointOffset: checkpointer ? (key) => checkpointer.peekOffset(key) : undefined,
      discardCheckpoint: (key) => tasks!.discard(key),
      fail: (error) => this.fail(error),
      end: () => {
        this.ended = true;
        this.queue.close();
      },
      commitGate: checkpointer ? (acknowledged) => checkpointer.commitGate(acknowledged) : undefined,
    };
  }

  /** Queues a source batch, waiting (and keeping the consumer alive) while the buffer is full. */
  private admit(batch: SourceBatch<unknown>, keepAlive?: () => Promise<void>): Promise<void> {
    return this.queue.admit(batch, this.parts.clock!, keepAlive);
  }

  private async runProcessLoop(): Promise<void> {
    const { router, checkpointer, idleTicks } = this.parts;
    await this.queue.drain({ router: router!, sinks: this.sinks, checkpointer, idleTicks, fail: (error) => this.fail(error) });
    if (this.ended && !this.stopping) await this.finishBoundedInput();
  }

  /** End of a bounded input: close every window, let async steps finish, flush sinks. */
  private async finishBoundedInput(): Promise<void> {
    try {
      await this.parts.router!.finish();
      await this.sinks.flush();
      this.resolveDone();
    } catch (error) {
      this.fail(error);
    }
  }

  stats(): EngineStats {
    const { buffer } = this.queue;
    return {
      inFlight: buffer.size,
      peakInFlight: buffer.highWaterMark,
      maxInFlight: buffer.capacity,
      fetchBlocked: this.queue.fetchBlocked,
      sinkWaits: this.queue.sinkWaits,
      processedRecords: this.parts.router?.processedRecords ?? 0,
      watermark: this.parts.clock?.watermark ?? -Infinity,
      routed: Object.fromEntries(this.sinks.routed),
    };
  }

  /** The step of stop() in progress ('running' before it, 'stopped' after). */
  get shutdownPhase(): string {
    return this.stopPhase;
  }

  /** The source, for tests that inspect it (group joins of a Kafka consumer). */
  get activeSource(): Source<unknown> {
    return this.parts.source!;
  }

  /**
   * Stops the engine because of `error`: `done` rejects with it, sinks are flushed as far as they
   * can be, and nothing after the last commit is committed. Called for every fatal error inside
   * the engine; a process that owns the engine (the CLI) also routes errors here that reach
   * RxJS's global handler, which the engine itself leaves alone.
   */
  fail(error: unknown): void {
    this.audit.failed(error);
    this.parts.checkpointer?.abandon();
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
    this.parts.idleTicks?.stop();
    this.parts.statsPublisher?.stop();
    this.stopping ??= (async () => {
      const { logger, audit, environment, sinks, queue, parts } = this;
      await shutDownEngine({ logger, audit, environment, sinks, queue, parts, processLoop: () => this.processLoop, phase: (phase) => (this.stopPhase = phase) });
      this.stopPhase = 'stopped';
      this.resolveDone();
      this.logger.info(this.stats(), `topology ${this.topology.name} stopped`);
    })();
    return this.stopping;
  }
}
