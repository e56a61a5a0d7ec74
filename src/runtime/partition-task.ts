import { Subject } from 'rxjs';
import type { AckToken } from '../core/ack.ts';
import type { Batch, DeadLetter, StreamRecord } from '../core/batch.ts';
import type { StateRegistry } from '../core/step-state.ts';
import type { BatchTrace } from '../observability/tracing/batch-trace.ts';
import type { BatchTiming } from '../observability/stage-latency.ts';
import { buildOutputs, type AnyTopology } from '../topology/define-topology.ts';
import type { SinkConnection, SinkSet } from './sink-set.ts';

/**
 * One instance of the topology's pipeline, reading one partition (a Kafka Streams task): its
 * own operators, its own state registry and its own watermark. Because a partition's state
 * lives apart from every other partition's, it can be checkpointed, handed to another instance
 * in a rebalance and restored there without touching the rest. Keys must be co-partitioned:
 * every record of a key in one partition (producers key messages by it).
 */
export class PartitionTask {
  readonly partition: string;
  readonly registry: StateRegistry;
  /** The watermark of the last batch it was given. */
  watermark = -Infinity;
  /**
   * Offsets below it are already in its state: a batch fetched before a rebalance that reaches
   * the task after it was restored from a checkpoint is skipped, not counted twice.
   */
  nextOffset: bigint;
  private readonly input = new Subject<Batch<unknown>>();
  private readonly connection: SinkConnection;

  constructor(options: { partition: string; topology: AnyTopology; registry: StateRegistry; sinks: SinkSet; onError: (error: unknown) => void; nextOffset?: bigint }) {
    this.partition = options.partition;
    this.registry = options.registry;
    this.nextOffset = options.nextOffset ?? -1n;
    this.connection = options.sinks.connect(buildOutputs(options.topology, this.input.asObservable()), options.onError);
  }

  /** Resolves once every output stream ended (after `finish` or `complete`). */
  get done(): Promise<void> {
    return this.connection.done;
  }

  /**
   * Runs records through the pipeline at `watermark` (at least the last one) and returns the
   * batch, whose side outputs (late records, dead letters) the caller drains.
   */
  process(records: StreamRecord<unknown>[], deadLetters: DeadLetter[], watermark: number, acks: AckToken[], lastOffset: bigint, trace?: BatchTrace, timing?: BatchTiming): Batch<unknown> {
    if (watermark > this.watermark) this.watermark = watermark;
    if (lastOffset >= this.nextOffset) this.nextOffset = lastOffset + 1n;
    const side: Batch<unknown>['side'] = { late: [], deadLetters, state: this.registry };
    if (trace !== undefined) side.trace = trace;
    if (timing !== undefined) side.timing = timing;
    const batch: Batch<unknown> = { records, watermark: this.watermark, acks, side };
    this.input.next(batch);
    return batch;
  }

  /** Moves the watermark on without records (idleness, end of input), closing windows behind it. */
  advance(watermark: number, timing?: BatchTiming): Batch<unknown> | null {
    if (!(watermark > this.watermark)) return null;
    return this.process([], [], watermark, [], -1n, undefined, timing);
  }

  /** Keeps only the records at or after `nextOffset` (a stale batch overlapping restored state). */
  unseen(records: StreamRecord<unknown>[], lastOffset: bigint): StreamRecord<unknown>[] {
    if (lastOffset < this.nextOffset) return [];
    if (records.length === 0 || BigInt(records[0]!.offset) >= this.nextOffset) return records;
    return records.filter((record) => BigInt(record.offset) >= this.nextOffset);
  }

  /** Ends the input: async steps drain and the outputs complete (see `done`). */
  complete(): void {
    if (!this.input.closed) this.input.complete();
  }

  /**
   * Drops the task after its partition was revoked: nothing more of it reaches the sinks. Its
   * open windows are not emitted; the partition's new owner restores them from the checkpoint
   * (or, with in-memory state, reads their records again from the committed offset).
   */
  drop(): void {
    this.connection.close();
    this.input.complete();
  }
}
