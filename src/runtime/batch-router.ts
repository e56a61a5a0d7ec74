import type { Batch, StreamRecord } from '../core/batch.ts';
import { ContractCheck } from '../contracts/contract-check.ts';
import type { DataContract } from '../contracts/define-contract.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SourceBatch } from '../sources/source.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { EventTimeClock } from '../core/event-time-clock.ts';
import type { PartitionTasks } from './partition-tasks.ts';
import type { SinkSet } from './sink-set.ts';
import { stageLatencyOf, type StageLatency } from '../observability/stage-latency.ts';

export interface BatchRouterOptions {
  tasks: PartitionTasks;
  clock: EventTimeClock;
  sinks: SinkSet;
  checkpointer: Checkpointer | null;
  metrics: Metrics;
  topology: string;
  /** The topology's data contract, checked on every record before the pipeline and the clock. */
  contract?: DataContract<unknown>;
  /** The source's clock (Source.processingTime); without one, contracts use each batch's largest event time. */
  processingTime?: () => number;
}

/**
 * Moves source batches through the partition tasks, one at a time from the engine's process
 * loop: each batch to its partition's task at the partition's watermark, its raw records and side
 * outputs to the sinks; idleness ticks and the end of a bounded input to every task.
 */
export class BatchRouter {
  processedRecords = 0;
  /** Whether windows closed since takeClosed() was last asked. */
  private closed = false;
  private readonly options: BatchRouterOptions;
  private readonly labels: { topology: string };
  private readonly contract: ContractCheck<unknown> | null;
  private readonly latency: StageLatency;

  constructor(options: BatchRouterOptions) {
    this.options = options;
    this.labels = { topology: options.topology };
    this.contract = options.contract ? new ContractCheck(options.contract, { metrics: options.metrics, topology: options.topology }) : null;
    const { clock, metrics } = options;
    this.latency = stageLatencyOf(metrics.registry, options.topology);
    // As of the scrape, not of the last batch: an idle or stuck topology's lag keeps growing.
    metrics.watermarkLag.report((gauge) => {
      if (Number.isFinite(clock.watermark)) gauge.set(this.labels, (Date.now() - clock.watermark) / 1000);
    });
  }

  /** `arrivedAt`: when the engine took the batch in (performance.now()), the start of its processing latency. */
  process(sourceBatch: SourceBatch<unknown>, arrivedAt = performance.now()): void {
    const { tasks, clock, sinks, checkpointer } = this.options;
    const { partitionKey, token } = sourceBatch;
    // Decoded by the source, processed here or (revoked partition) by the next owner.
    if (sourceBatch.records.length > 0) this.options.metrics.recordsDecoded.inc(this.labels, sourceBatch.records.length);
    const task = tasks.taskFor(partitionKey);
    if (task === null) {
      // Fetched before its partition was revoked: the new owner processes these records.
      token.release();
      return;
    }
    // A new task, or one whose idle partition followed the topology watermark, first gets the
    // partition's watermark alone: its records are judged late against it, as in one pass.
    const timing = this.latency.begin(arrivedAt);
    const caughtUp = task.advance(clock.watermarkOf(partitionKey), timing);
    if (caughtUp) sinks.drainSideOutputs(caughtUp.side, caughtUp.acks);
    // Only restored state makes records already seen (durable checkpoints); replays of stored
    // events keep their original, unordered Kafka offsets and must not be filtered by them.
    let records = checkpointer ? task.unseen(sourceBatch.records, token.lastOffset) : sourceBatch.records;
    let maxEventTime = sourceBatch.maxEventTime;
    // The contract before the clock: a record with a wild event time must not move the watermark.
    if (this.contract !== null && records.length > 0) {
      const checked = this.contract.apply(records, this.options.processingTime?.() ?? maxEventTime);
      if (checked.violations.length > 0) {
        records = checked.kept;
        maxEventTime = largestEventTime(records);
        sinks.routeViolations(checked.violations, [token]);
      }
    }
    if (records.length > 0) clock.observe(partitionKey, maxEventTime);
    const batch = task.process(records, sourceBatch.deadLetters, clock.watermarkOf(partitionKey), [token], token.lastOffset, sourceBatch.trace, timing);
    this.processedRecords += records.length;
    if (timing.closing) this.closed = true;
    sinks.route('raw', batch);
    checkpointer?.noteProcessed(partitionKey, token.lastOffset);
    this.options.metrics.watermark.set(this.labels, Number.isFinite(clock.watermark) ? clock.watermark / 1000 : 0);
    token.release();
  }

  /** Whether windows closed since the last call (the engine then yields, so they are scored first). */
  takeClosed(): boolean {
    const closed = this.closed;
    this.closed = false;
    return closed;
  }

  /** Gives each task whose watermark idleness advanced an empty batch carrying it, so windows close. */
  idleTick(): void {
    const { tasks, clock, metrics } = this.options;
    const watermark = clock.tick();
    metrics.idlePartitions.set(this.labels, clock.idlePartitions);
    const timing = this.latency.begin();
    for (const task of tasks.all()) this.advance(task.advance(clock.watermarkOf(task.partition), timing));
    if (Number.isFinite(watermark)) metrics.watermark.set(this.labels, watermark / 1000);
  }

  /** End of a bounded input: every window closes; resolves once every task's outputs completed. */
  async finish(): Promise<void> {
    const end = this.options.clock.finish();
    const timing = this.latency.begin();
    for (const task of this.options.tasks.all()) this.advance(task.advance(end, timing));
    await this.options.tasks.complete();
  }

  /** Side outputs of a batch that only moved the watermark (windows it closed may emit late records). */
  private advance(batch: Batch<unknown> | null): void {
    if (batch) this.options.sinks.drainSideOutputs(batch.side, batch.acks);
  }
}

function largestEventTime(records: readonly StreamRecord<unknown>[]): number {
  let largest = -Infinity;
  for (let i = 0; i < records.length; i++) if (records[i]!.eventTime > largest) largest = records[i]!.eventTime;
  return largest;
}
