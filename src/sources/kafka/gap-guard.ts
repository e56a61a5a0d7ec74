import { errorMessage } from '../../core/errors.ts';
import { retry } from '../../core/retry.ts';
import type { Admin } from '../../kafka/kafka-client.ts';
import type { Logger } from '../../observability/logger.ts';
import { findGaps, offsetGapError, type OffsetGap, type OffsetGapPolicy, type ResumePosition } from './offset-gaps.ts';

/**
 * What the kafkajs consumer logs when a fetch offset is outside the log, just before it moves
 * the partition to its default offset without telling anyone (kafkajs 2.2.4,
 * src/consumer/consumerGroup.js, recoverFromOffsetOutOfRange; a unit test checks the text).
 */
export const KAFKAJS_OFFSET_RESET_MESSAGE = 'Offset out of range, resetting to default offset';

/** What to do with a fetched batch of a partition. */
export type GapDecision = { kind: 'pass' } | { kind: 'seek'; offset: bigint } | { kind: 'fail' };

const PASS: GapDecision = { kind: 'pass' };
const FAIL: GapDecision = { kind: 'fail' };

export interface GapGuardOptions {
  topic: string;
  groupId: string;
  policy: OffsetGapPolicy;
  /** The environment variable that overrides the policy, named in the error of 'fail'. */
  overrideVariable: string;
  admin: () => Promise<Admin>;
  logger: Logger;
  /** The next offset this process hands over for a partition ('topic:partition'), if it read it already. */
  consumerPosition: (partitionKey: string) => bigint | undefined;
  /** Durable state: the offset of the partition's saved checkpoint, if any. */
  checkpointOffset?: (partitionKey: string) => Promise<bigint | undefined>;
  /** Durable state: forgets a checkpoint whose offset no longer exists, so it is never restored. */
  discardCheckpoint?: (partitionKey: string) => Promise<void>;
  /** Logs, counts and audits the gaps found (whatever the policy). */
  report: (gaps: readonly OffsetGap[], policy: OffsetGapPolicy) => void;
  /** Policy 'fail': stops the engine with the error. */
  fail: (error: Error) => void;
}

/**
 * Checks, before a partition's records reach the pipeline, that the position it resumes from
 * (this process's own, else the checkpoint's, else the committed offset) is still in the log.
 * It runs for every partition of each new assignment, and again for one partition when the
 * client reset its fetch offset (an offset out of range while running). Found gaps are reported,
 * then the policy decides: stop with every gap named, or move the partition to the log's start or
 * end (discarding a checkpoint that lies in the gap). Batches of a partition wait for its check;
 * the others pass with one Set lookup.
 */
export class GapGuard {
  private readonly options: GapGuardOptions;
  /** Partitions whose position must be checked before their next batch. */
  private readonly unchecked = new Set<string>();
  private checking: Promise<void> | null = null;
  /** Where an accepted gap moved a partition: seek there once if its next batch starts elsewhere. */
  private readonly moveTo = new Map<string, bigint>();
  /** Positions of accepted gaps, so a later reset of the same partition is not counted again. */
  private readonly accepted = new Map<string, bigint>();
  private failed = false;
  /**
   * The group's committed offsets read before the consumer fetched anything. kafkajs answers an
   * out-of-range fetch offset by committing its default offset (-2, earliest) over the group's,
   * so a read after its first fetch may find the position already erased.
   */
  private committedAtStart = new Map<number, string>();
  /** Policy 'fail': the committed offsets to put back, so every restart finds the same gap. */
  private readonly keep = new Map<number, bigint>();

  constructor(options: GapGuardOptions) {
    this.options = options;
  }

  /** Reads the group's committed offsets; call before the consumer starts fetching. */
  async readCommittedOffsets(): Promise<void> {
    const admin = await this.options.admin();
    const committed = await admin.committedOffsets(this.options.groupId, this.options.topic);
    this.committedAtStart = new Map(committed.map(({ partition, offset }) => [partition, offset]));
  }

  /**
   * Policy 'fail', once failed: the committed offsets the group had before the client overwrote
   * them, to commit again on the way out (a gap is never accepted by stopping).
   */
  get offsetsToRestore(): Array<{ topic: string; partition: number; offset: string }> {
    return [...this.keep].map(([partition, offset]) => ({ topic: this.options.topic, partition, offset: offset.toString() }));
  }

  /** A new assignment: every partition of it is checked (now, in the background). */
  assign(partitionKeys: readonly string[]): void {
    const assigned = new Set(partitionKeys);
    for (const key of [...this.moveTo.keys()]) if (!assigned.has(key)) this.moveTo.delete(key);
    for (const key of [...this.accepted.keys()]) if (!assigned.has(key)) this.accepted.delete(key);
    for (const key of partitionKeys) this.unchecked.add(key);
    void this.checkPending();
  }

  /** The client moved a partition's fetch offset because it was out of range: check it again. */
  offsetReset(partitionKey: string): void {
    this.unchecked.add(partitionKey);
    void this.checkPending();
  }

  /** Before handing over a batch of `partitionKey` whose first offset is `firstOffset`. */
  async decide(partitionKey: string, firstOffset: bigint): Promise<GapDecision> {
    if (this.failed) return FAIL;
    if (this.unchecked.has(partitionKey) || this.checking !== null) await this.checkPending();
    if (this.failed) return FAIL;
    if (this.moveTo.size === 0) return PASS;
    const target = this.moveTo.get(partitionKey);
    if (target === undefined) return PASS;
    // Once: a compacted log may legitimately have no record at the target itself.
    this.moveTo.delete(partitionKey);
    return firstOffset === target ? PASS : { kind: 'seek', offset: target };
  }

  /** Checks every unchecked partition (one admin round trip for all); concurrent callers share it. */
  private async checkPending(): Promise<void> {
    while (this.checking !== null) await this.checking;
    if (this.unchecked.size === 0 || this.failed) return;
    const keys = [...this.unchecked];
    this.unchecked.clear();
    this.checking = this.check(keys)
      .catch((error: unknown) => {
        // Unverified is reported, not silent; fetching goes on so a flaky admin call cannot stop the topology.
        this.options.logger.error({ err: errorMessage(error), partitions: keys }, 'could not check the resume offsets against the log (lost records would go uncounted); continuing');
      })
      .finally(() => {
        this.checking = null;
      });
    await this.checking;
  }

  private async check(keys: readonly string[]): Promise<void> {
    const { topic, groupId, policy, logger } = this.options;
    const admin = await this.options.admin();
    const [bounds, fresh] = await retry(() => Promise.all([admin.topicEndOffsets(topic), admin.committedOffsets(groupId, topic)]), {
      what: `reading the offsets of ${topic} and of group ${groupId}`,
      maxAttempts: 5,
      initialDelayMs: 300,
      onRetry: ({ attempt, error }) => logger.warn({ attempt, err: errorMessage(error) }, 'reading log and committed offsets failed, retrying'),
    });
    // The offsets read before the first fetch, where there are (each used once), else these.
    const committed = fresh.map(({ partition, offset }) => ({ partition, offset: this.committedAtStart.get(partition) ?? offset }));
    const positions: ResumePosition[] = [];
    for (const key of keys) {
      const partition = Number(key.slice(key.lastIndexOf(':') + 1));
      const position = await this.positionOf(key, partition, committed);
      if (position !== undefined) positions.push(position);
      if (policy !== 'fail') this.committedAtStart.delete(partition);
    }
    const gaps = findGaps(
      topic,
      positions,
      bounds.map(({ partition, low, high }) => ({ partition, low: BigInt(low), high: BigInt(high) })),
      policy,
    );
    if (gaps.length === 0) return;
    this.options.report(gaps, policy);
    if (policy === 'fail') {
      this.failed = true;
      for (const gap of gaps) {
        const offset = committed.find((c) => c.partition === gap.partition)?.offset;
        if (offset !== undefined && BigInt(offset) >= 0n) this.keep.set(gap.partition, BigInt(offset));
      }
      this.options.fail(offsetGapError(gaps, this.options.overrideVariable));
      return;
    }
    for (const gap of gaps) {
      const key = `${topic}:${gap.partition}`;
      // State saved at a position that is gone would continue from another one: drop it.
      if (gap.source === 'checkpoint' || gap.reason === 'beyond_log_end') await this.options.discardCheckpoint?.(key);
      this.moveTo.set(key, gap.resumeAt);
      this.accepted.set(key, gap.resumeAt);
    }
  }

  /** This process's position, else an accepted gap's, else the checkpoint's, else the committed offset (none: a new group). */
  private async positionOf(key: string, partition: number, committed: ReadonlyArray<{ partition: number; offset: string }>): Promise<ResumePosition | undefined> {
    const own = this.options.consumerPosition(key) ?? this.accepted.get(key);
    if (own !== undefined && own >= 0n) return { partition, offset: own, source: 'consumer position' };
    const checkpoint = await this.options.checkpointOffset?.(key);
    if (checkpoint !== undefined) return { partition, offset: checkpoint, source: 'checkpoint' };
    const offset = committed.find((c) => c.partition === partition)?.offset;
    if (offset === undefined || BigInt(offset) < 0n) return undefined;
    return { partition, offset: BigInt(offset), source: 'committed offset' };
  }
}
