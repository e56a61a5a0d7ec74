import { AckToken } from './ack.ts';

export interface CommittableOffset {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka expects in a commit. */
  offset: string;
}

interface PartitionLog {
  topic: string;
  partition: number;
  /** Tokens in offset order; `head` is the oldest not yet committed. */
  tokens: AckToken[];
  head: number;
  committable: bigint;
  committed: bigint;
}

/**
 * Tracks, per partition, the source batches in offset order and which are fully acknowledged.
 * The committable offset is one past the last offset of the longest acknowledged prefix, so a
 * record still held in an open window or a sink buffer holds back every later offset.
 */
export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionLog>();

  /** Creates the token for a batch of `recordCount` records ending at `lastOffset`. */
  track(topic: string, partition: number, lastOffset: bigint, recordCount: number): AckToken {
    const key = `${topic}:${partition}`;
    let log = this.partitions.get(key);
    if (log === undefined) {
      log = { topic, partition, tokens: [], head: 0, committable: -1n, committed: -1n };
      this.partitions.set(key, log);
    }
    const token = new AckToken(key, lastOffset, recordCount, () => this.advance(key));
    log.tokens.push(token);
    return token;
  }

  /** Offsets that advanced since the last call; mark them committed with `markCommitted`. */
  pending(): CommittableOffset[] {
    const offsets: CommittableOffset[] = [];
    for (const log of this.partitions.values()) {
      if (log.committable > log.committed) offsets.push({ topic: log.topic, partition: log.partition, offset: (log.committable + 1n).toString() });
    }
    return offsets;
  }

  /** Per 'topic:partition', the next offset after the longest acknowledged prefix. */
  acknowledged(): Map<string, bigint> {
    const offsets = new Map<string, bigint>();
    for (const [key, log] of this.partitions) if (log.committable >= 0n) offsets.set(key, log.committable + 1n);
    return offsets;
  }

  /** The offsets in `offsets` beyond what was committed (checkpointed sources commit these). */
  notCommitted(offsets: readonly CommittableOffset[]): CommittableOffset[] {
    return offsets.filter(({ topic, partition, offset }) => BigInt(offset) - 1n > (this.partitions.get(`${topic}:${partition}`)?.committed ?? -1n));
  }

  markCommitted(offsets: readonly CommittableOffset[]): void {
    for (const { topic, partition, offset } of offsets) {
      const key = `${topic}:${partition}`;
      let log = this.partitions.get(key);
      // A resumed partition may commit a checkpoint's offset before it delivered a batch.
      if (log === undefined) this.partitions.set(key, (log = { topic, partition, tokens: [], head: 0, committable: -1n, committed: -1n }));
      const last = BigInt(offset) - 1n;
      if (last > log.committed) log.committed = last;
    }
  }

  /** Batches of a partition that are not yet fully acknowledged. */
  outstanding(topic: string, partition: number): number {
    const log = this.partitions.get(`${topic}:${partition}`);
    return log ? log.tokens.length - log.head : 0;
  }

  /** Forgets partitions this instance no longer owns (after a rebalance). */
  retainOnly(partitionKeys: ReadonlySet<string>): void {
    for (const key of [...this.partitions.keys()]) if (!partitionKeys.has(key)) this.partitions.delete(key);
  }

  private advance(key: string): void {
    const log = this.partitions.get(key);
    if (log === undefined) return;
    while (log.head < log.tokens.length && log.tokens[log.head]!.done) {
      log.committable = log.tokens[log.head]!.lastOffset;
      log.head++;
    }
    // Compact occasionally so the array does not grow without bound.
    if (log.head > 1024 && log.head * 2 > log.tokens.length) {
      log.tokens = log.tokens.slice(log.head);
      log.head = 0;
    }
  }
}
