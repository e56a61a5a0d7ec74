import { OffsetGapError } from '../../core/errors.ts';

/**
 * What a Kafka source does when the offset it would resume from is no longer in the log:
 * 'fail' stops the engine with the gap in the message (the default with durable window state,
 * whose checkpoints would otherwise continue silently from another position), 'earliest'
 * continues from the first record still held, 'latest' from the end of the log. Every gap is
 * logged and counted in tributary_records_lost_total whatever the policy.
 */
export type OffsetGapPolicy = 'fail' | 'earliest' | 'latest';

export const OFFSET_GAP_POLICIES: readonly OffsetGapPolicy[] = ['fail', 'earliest', 'latest'];

/**
 * below_log_start: retention or deleteRecords removed records before they were read.
 * beyond_log_end: the position lies past the log's end (the log was truncated or recreated).
 * skipped_to_latest: records still in the log that policy 'latest' skips.
 */
export type GapReason = 'below_log_start' | 'beyond_log_end' | 'skipped_to_latest';

/** Where a partition's resume position came from. */
export type PositionSource = 'checkpoint' | 'committed offset' | 'consumer position';

export interface ResumePosition {
  partition: number;
  /** The next offset the consumer would read. */
  offset: bigint;
  source: PositionSource;
}

/** The records a partition's log holds now: offsets [low, high). */
export interface LogBounds {
  partition: number;
  low: bigint;
  high: bigint;
}

export interface OffsetGap {
  topic: string;
  partition: number;
  /** First offset lost (inclusive). */
  from: bigint;
  /** The offset after the last one lost (exclusive). */
  to: bigint;
  reason: GapReason;
  source: PositionSource;
  /** Where the partition reads on when the gap is accepted ('earliest': the log start, 'latest': its end). */
  resumeAt: bigint;
}

/** Records lost in a gap. */
export function gapSize(gap: OffsetGap): bigint {
  return gap.to - gap.from;
}

/**
 * The gaps between each partition's resume position and its log, and for policy 'latest' the
 * records it would skip. A position inside [low, high] has no gap (high: nothing new yet).
 */
export function findGaps(topic: string, positions: readonly ResumePosition[], bounds: readonly LogBounds[], policy: OffsetGapPolicy): OffsetGap[] {
  const gaps: OffsetGap[] = [];
  for (const position of positions) {
    const log = bounds.find((b) => b.partition === position.partition);
    if (log === undefined) continue;
    const resumeAt = policy === 'latest' ? log.high : log.low;
    const base = { topic, partition: position.partition, source: position.source, resumeAt };
    if (position.offset < log.low) {
      gaps.push({ ...base, from: position.offset, to: log.low, reason: 'below_log_start' });
      if (policy === 'latest' && log.high > log.low) gaps.push({ ...base, from: log.low, to: log.high, reason: 'skipped_to_latest' });
    } else if (position.offset > log.high) {
      gaps.push({ ...base, from: log.high, to: position.offset, reason: 'beyond_log_end' });
      if (policy === 'latest' && log.high > log.low) gaps.push({ ...base, from: log.low, to: log.high, reason: 'skipped_to_latest' });
    }
  }
  return gaps;
}

/** One line per gap: partition, offset range, count and why. */
export function describeGap(gap: OffsetGap): string {
  const range = `offsets ${gap.from} to ${gap.to - 1n} (${gapSize(gap)} records)`;
  switch (gap.reason) {
    case 'below_log_start':
      return `topic ${gap.topic} partition ${gap.partition}: ${range} were deleted before they were read (the ${gap.source} is ${gap.from}, the log now starts at ${gap.to}; retention or deleteRecords)`;
    case 'beyond_log_end':
      return `topic ${gap.topic} partition ${gap.partition}: ${range} no longer exist (the ${gap.source} is ${gap.to}, the log now ends at ${gap.from}; the log was truncated or the topic recreated)`;
    case 'skipped_to_latest':
      return `topic ${gap.topic} partition ${gap.partition}: ${range} skipped by onOffsetGap 'latest'`;
  }
}

/** The error of policy 'fail': every gap, the total, and how to accept them. */
export function offsetGapError(gaps: readonly OffsetGap[], variable: string): OffsetGapError {
  const total = gaps.reduce((sum, gap) => sum + gapSize(gap), 0n);
  return new OffsetGapError(
    `${total} records were lost before this consumer read them: ${gaps.map(describeGap).join('; ')}. ` +
      "The engine stops instead of continuing past the gap (onOffsetGap: 'fail'), and commits nothing. " +
      `To accept the gap and continue from the first record still in the log, start once with ${variable}=earliest ` +
      `(e.g. ${variable}=earliest tributary run <topology>), or set kafkaTopic({ onOffsetGap: 'earliest' }); ` +
      'the checkpoints of those partitions are then discarded and their windows start empty',
  );
}
