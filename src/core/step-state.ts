import { deserialize, serialize } from 'node:v8';
import { ConfigError, StateLimitError } from './errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { PipelineTracer } from '../observability/tracing/pipeline-tracer.ts';

/** The running engine's metrics and logger, for steps that report beyond state (scoring). */
export interface StepRuntime {
  topology: string;
  metrics: Metrics;
  logger: Logger;
  /** What the engine produces: 'online' (default), or 'backfill' for a replay of stored events. */
  origin?: string;
  /** The topology's event-time watermark now (the lowest over its assigned, non-idle partitions). */
  watermark?: () => number;
  /** Tracing is on (windowed steps trace the windows they emit from traced records). */
  tracer?: PipelineTracer;
  /**
   * "Now" on the source's clock (Source.processingTime), for steps that judge freshness (a score
   * step's maxInputAge); absent where there is none (a backfill's replay).
   */
  processingTime?: () => number;
  /**
   * The engine's Kafka, for steps that read and write internal topics (repartition): `client`
   * returns a KafkaClient (kafka/kafka-client.ts, a floor above this one), `groupId` the source's group.
   */
  kafka?: { client: () => unknown; groupId: string };
}

/**
 * The hooks a stateful step (window aggregate, session, sliding window, join buffer) gives the
 * runtime so its open state survives a restart.
 */
export interface StatefulStep {
  /**
   * The step's state, made only of data that `v8.serialize` keeps: numbers, strings, plain
   * objects and arrays, Maps, Sets, typed arrays (no class instances, no acks). It may share
   * objects with the live state: the registry serializes it at once, before the next batch.
   * Called between batches, never while one is in the pipeline.
   */
  snapshot(): unknown;
  /** Replaces the step's (empty) state with a deserialized copy of what `snapshot` returned, maybe in another process. */
  restore(state: unknown): void;
}

/** An asynchronous step (scoring) that may hold records between batches. */
export interface AsyncStep {
  /** Resolves once the step holds no records (it flushes what it holds first). */
  whenIdle(): Promise<void>;
  /** Whether the step holds records now (a score step's rows waiting for the model). */
  busy?(): boolean;
}

/**
 * Told each step's open windows after a batch; returns the step's total over every registry of
 * the instance (one per partition task), which the bound applies to, or nothing to use `count`.
 */
export type OpenWindowsListener = (step: string, count: number) => number | void;

/** One step's entry in a checkpoint. */
interface SavedStep {
  definition: string;
  state: unknown;
}

/**
 * The stateful and asynchronous steps of one running topology, reached by every operator through
 * `batch.side.state` (absent in plain-array runs and tests: then steps keep state in memory only).
 *
 * With `durable` set, open state is covered by checkpoints instead of acks: steps do not retain
 * the ack tokens of records they absorb, so offsets commit as soon as the sinks acknowledged the
 * rows derived so far and a checkpoint holding the state has been saved.
 *
 * A step registers once, on the first batch it sees, under its stable step name; if the
 * checkpoint being resumed has state under that name, the step gets it right away.
 */
export class StateRegistry {
  readonly durable: boolean;
  /** Most open windows (key × window, or buffered records for sliding/join steps) one step may hold. */
  readonly maxOpenWindows: number;
  /** Absent in plain-array runs and unit tests. */
  readonly runtime: StepRuntime | undefined;
  private readonly onOpenWindows: OpenWindowsListener;
  private readonly steps = new Map<string, { step: StatefulStep; definition: string }>();
  private readonly asyncSteps: AsyncStep[] = [];
  /** Serialized state per step name, from the checkpoint being resumed, not claimed yet. */
  private readonly restored: Map<string, Uint8Array>;

  constructor(options: { durable: boolean; restored?: ReadonlyMap<string, Uint8Array>; maxOpenWindows?: number; onOpenWindows?: OpenWindowsListener; runtime?: StepRuntime }) {
    this.durable = options.durable;
    this.runtime = options.runtime;
    this.maxOpenWindows = options.maxOpenWindows ?? Infinity;
    this.onOpenWindows = options.onOpenWindows ?? (() => {});
    this.restored = new Map(options.restored ?? []);
  }

  /**
   * Registers `step` under `name`, restoring its checkpointed state if there is one.
   * `definition` describes what the state means (window shape, aggregation names): restoring
   * state saved under another definition would mix accumulators, so it is refused.
   */
  register(name: string, step: StatefulStep, definition = ''): void {
    if (this.steps.has(name)) {
      throw new ConfigError(`step "${name}"`, 'two stateful steps have the same name, so their checkpointed state would mix', `give each its own name, e.g. aggregate({...}, { name: '${name}-2' })`);
    }
    this.steps.set(name, { step, definition });
    const blob = this.restored.get(name);
    if (blob === undefined) return;
    this.restored.delete(name);
    const saved = deserialize(blob) as SavedStep;
    if (saved.definition !== definition) {
      throw new ConfigError(`step "${name}"`, `its checkpointed state was made by another definition (${saved.definition}; now ${definition})`, 'give the changed step a new name, or delete the checkpoint to start its windows empty');
    }
    step.restore(saved.state);
  }

  /**
   * Reports how many open windows `step` holds after a batch (for the metric) and stops the
   * topology with a StateLimitError once it exceeds the bound: failing loudly beats running out
   * of memory, and the offsets of the unfinished windows are not committed, so nothing is lost.
   */
  checkOpenWindows(step: string, count: number): void {
    const total = this.onOpenWindows(step, count) ?? count;
    if (total > this.maxOpenWindows) {
      throw new StateLimitError(
        step,
        `${total} open windows exceed the bound of ${this.maxOpenWindows} (TRIBUTARY_MAX_OPEN_WINDOWS). ` +
          'Fix: raise TRIBUTARY_MAX_OPEN_WINDOWS if memory allows (about 200-300 bytes per count/sum/max window), ' +
          'or reduce the keys or the window length, grace and allowed lateness, or check for an event-time field that stalls the watermark',
      );
    }
  }

  /** Registers an asynchronous step; checkpoints wait until it holds no records. */
  registerAsync(step: AsyncStep): void {
    this.asyncSteps.push(step);
  }

  /** Whether an async step holds records now (a burst still on its way to the pushes). */
  busy(): boolean {
    for (const step of this.asyncSteps) if (step.busy?.()) return true;
    return false;
  }

  /** Names of checkpointed steps that no step of this topology has claimed (yet). */
  get unclaimed(): string[] {
    return [...this.restored.keys()];
  }

  /** Resolves once no asynchronous step holds records. */
  async whenAsyncIdle(): Promise<void> {
    await Promise.all(this.asyncSteps.map((step) => step.whenIdle()));
  }

  /**
   * Every registered step's state by name, serialized (a copy later batches cannot change).
   * Steps registered only later (no batch reached them yet) have none; checkpointed state not
   * claimed yet is carried over so it is not lost.
   */
  snapshot(): Map<string, Uint8Array> {
    const states = new Map<string, Uint8Array>(this.restored);
    for (const [name, { step, definition }] of this.steps) states.set(name, serialize({ definition, state: step.snapshot() } satisfies SavedStep));
    return states;
  }
}
