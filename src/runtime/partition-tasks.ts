import type { Logger } from '../observability/logger.ts';
import type { PipelineTracer } from '../observability/tracing/pipeline-tracer.ts';
import type { Metrics } from '../observability/metrics.ts';
import { StateRegistry, type StepRuntime } from '../core/step-state.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import type { Checkpointer, TaskStates } from './checkpointer.ts';
import type { EventTimeClock } from '../core/event-time-clock.ts';
import { PartitionTask } from './partition-task.ts';
import type { SinkSet } from './sink-set.ts';

export interface PartitionTasksOptions {
  topology: AnyTopology;
  sinks: SinkSet;
  clock: EventTimeClock;
  logger: Logger;
  metrics: Metrics;
  /** Durable window state: steps keep no acks, checkpoints cover their state. */
  durable: boolean;
  maxOpenWindows: number;
  /** The source's clock (Source.processingTime), handed to steps through their runtime. */
  processingTime?: () => number;
  onError: (error: unknown) => void;
  /** EngineOptions.origin, for steps that behave differently in a replay (drift monitoring). */
  origin?: string;
  tracer?: PipelineTracer;
  /** Kafka for steps with internal topics (repartition). */
  kafka?: StepRuntime['kafka'];
}

/**
 * The partition tasks of this instance. On a rebalance, tasks of revoked partitions are dropped
 * (their state lives on in their last checkpoint) and each newly assigned partition gets a task
 * restored from its own checkpoint before its first batch is processed (`prepare`), so several
 * instances of one consumer group can split a topic and hand partitions over with their state.
 */
export class PartitionTasks implements TaskStates {
  private readonly options: PartitionTasksOptions;
  private readonly tasks = new Map<string, PartitionTask>();
  private readonly preparing = new Map<string, Promise<bigint | undefined>>();
  /** The partitions this instance reads; null until a source tells (the generator may not). */
  private assignment: Set<string> | null = null;
  /** Open windows per step and partition, for the instance-wide metric and bound. */
  private readonly openWindows = new Map<string, Map<string, number>>();
  /** Set once durable state is opened (it needs this object first). */
  checkpointer: Checkpointer | null = null;

  constructor(options: PartitionTasksOptions) {
    this.options = options;
  }

  all(): IterableIterator<PartitionTask> {
    return this.tasks.values();
  }

  /** Whether any task's async steps hold records now (scoring a burst). */
  busy(): boolean {
    for (const task of this.tasks.values()) if (task.registry.busy()) return true;
    return false;
  }

  /** A new assignment: drops the tasks of revoked partitions and tells the clock. */
  assign(partitions: readonly string[]): void {
    this.assignment = new Set(partitions);
    for (const [partition, task] of this.tasks) {
      if (this.assignment.has(partition)) continue;
      task.drop();
      this.tasks.delete(partition);
      this.checkpointer?.revoke(partition);
      for (const counts of this.openWindows.values()) counts.delete(partition);
      this.options.logger.info({ partition }, 'partition revoked: its task is dropped, its state stays in its last checkpoint');
    }
    for (const partition of this.preparing.keys()) if (!this.assignment.has(partition)) this.preparing.delete(partition);
    this.options.clock.assign(partitions);
  }

  /**
   * Before the first batch of a partition in an assignment: restores its task from the
   * partition's checkpoint (durable state) and resolves with the offset that checkpoint covers,
   * below which records are skipped. Undefined when there is nothing to skip.
   */
  prepare(partition: string): Promise<bigint | undefined> {
    const task = this.tasks.get(partition);
    if (task) return Promise.resolve(task.nextOffset >= 0n ? task.nextOffset : undefined);
    let preparing = this.preparing.get(partition);
    if (!preparing) {
      preparing = this.restore(partition).finally(() => this.preparing.delete(partition));
      this.preparing.set(partition, preparing);
    }
    return preparing;
  }

  /**
   * Forgets a partition's task and its checkpoint (an accepted offset gap made its state refer to
   * records that are gone): its next batch starts an empty task.
   */
  async discard(partition: string): Promise<void> {
    const task = this.tasks.get(partition);
    if (task) {
      task.drop();
      this.tasks.delete(partition);
      for (const counts of this.openWindows.values()) counts.delete(partition);
    }
    await this.checkpointer?.discard(partition);
  }

  /** The task for a batch of `partition`, created empty if needed; null once it was revoked. */
  taskFor(partition: string): PartitionTask | null {
    if (this.assignment !== null && !this.assignment.has(partition)) return null;
    return this.tasks.get(partition) ?? this.create(partition, undefined, -1n);
  }

  snapshot(partition: string): Map<string, Uint8Array> | undefined {
    return this.tasks.get(partition)?.registry.snapshot();
  }

  async whenAsyncIdle(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((task) => task.registry.whenAsyncIdle()));
    // Their output too: rows between the steps and the sinks (deferred, being masked) are in neither snapshot.
    await this.options.sinks.settle();
  }

  /** Ends every task's input; resolves once all their outputs completed. */
  async complete(): Promise<void> {
    for (const task of this.tasks.values()) task.complete();
    await Promise.all([...this.tasks.values()].map((task) => task.done));
  }

  private async restore(partition: string): Promise<bigint | undefined> {
    const checkpoint = (await this.checkpointer?.load(partition)) ?? null;
    // Revoked while loading: the next owner restores it.
    if (this.assignment !== null && !this.assignment.has(partition)) return undefined;
    if (checkpoint === null) {
      this.create(partition, undefined, -1n);
      return undefined;
    }
    const offset = BigInt(checkpoint.offset);
    this.options.clock.restorePartition(partition, checkpoint.clock);
    this.create(partition, checkpoint.steps, offset);
    this.options.logger.info(
      { partition, offset: checkpoint.offset, savedAt: new Date(checkpoint.savedAt).toISOString(), steps: [...checkpoint.steps.keys()], store: this.checkpointer!.description },
      'resuming window state from checkpoint',
    );
    return offset;
  }

  private create(partition: string, restored: ReadonlyMap<string, Uint8Array> | undefined, nextOffset: bigint): PartitionTask {
    const { topology, sinks, logger, metrics, durable, maxOpenWindows, processingTime, onError, origin, clock, tracer, kafka } = this.options;
    const registry = new StateRegistry({
      durable,
      restored,
      maxOpenWindows,
      onOpenWindows: (step, count) => this.countOpenWindows(partition, step, count),
      runtime: { topology: topology.name, metrics, logger, processingTime, origin, watermark: () => clock.watermark, tracer, kafka },
    });
    const task = new PartitionTask({ partition, topology, registry, sinks, onError, nextOffset });
    this.tasks.set(partition, task);
    return task;
  }

  /** Records one task's open windows of `step`; returns the step's total over all tasks. */
  private countOpenWindows(partition: string, step: string, count: number): number {
    let counts = this.openWindows.get(step);
    if (!counts) this.openWindows.set(step, (counts = new Map()));
    counts.set(partition, count);
    let total = 0;
    for (const n of counts.values()) total += n;
    this.options.metrics.openWindows.set({ topology: this.options.topology.name, step }, total);
    return total;
  }
}
