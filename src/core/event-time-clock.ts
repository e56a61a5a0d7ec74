export interface EventTimeClockOptions {
  /**
   * Processing time (ms) without a record after which a partition is idle and left out of the
   * minimum (Flink's withIdleness). 0 or absent: partitions never go idle.
   */
  idleTimeoutMs?: number;
  /** Wall clock, epoch ms; injected so tests are deterministic. Default Date.now. */
  now?: () => number;
}

/** Checkpointed form of one partition's clock: its largest event time and its watermark. */
export interface PartitionClockState {
  max: number;
  watermark: number;
}

/**
 * The event-time clock of one topology instance. Each partition's watermark is the largest event
 * time it has delivered minus the allowed out-of-orderness; the topology watermark is the
 * minimum over the assigned partitions (a partition that has delivered nothing yet holds it at
 * -Infinity) and never moves backwards.
 *
 * With an idle timeout, a partition that has delivered no record for that long (counted from its
 * assignment when it never delivered) is left out of the minimum, so a silent partition cannot
 * hold windows open for ever. It rejoins when it delivers again. When every assigned partition
 * is idle the watermark stops where it was when the last of them went idle (never +Infinity):
 * silence is no evidence that event time moved on.
 *
 * Each partition also has its own watermark (`watermarkOf`), which drives its task's windows
 * (runtime/partition-tasks.ts): its own largest event time minus the out-of-orderness while it
 * delivers, and the topology watermark while it is idle (so its windows still close). It never
 * goes backwards. Being a function of the partition's own records, it does not depend on which
 * other partitions this instance owns, so a partition's results are the same before and after a
 * rebalance moves it to another instance (Kafka Streams' per-task stream time).
 */
export class EventTimeClock {
  private readonly outOfOrdernessMs: number;
  private readonly idleTimeoutMs: number;
  private readonly wallClock: () => number;
  private readonly partitionMax = new Map<string, number>();
  private readonly partitionWatermark = new Map<string, number>();
  /** Idle-clock time of each assigned partition's last delivery (or of its assignment). */
  private readonly lastActive = new Map<string, number>();
  private assignedPartitions: string[] = [];
  private current = -Infinity;
  private idle = 0;
  // Idleness is measured on a clock that stops while the engine holds the source back
  // (backpressure): partitions cannot deliver then, and that silence must not make them idle.
  private pauses = 0;
  private pausedAt = 0;
  private pausedTotal = 0;

  constructor(outOfOrdernessMs: number, options: EventTimeClockOptions = {}) {
    this.outOfOrdernessMs = outOfOrdernessMs;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.wallClock = options.now ?? Date.now;
  }

  get watermark(): number {
    return this.current;
  }

  /** Assigned partitions excluded from the minimum at the last evaluation. */
  get idlePartitions(): number {
    return this.idle;
  }

  /** Replaces the set of partitions this instance reads (after a rebalance). */
  assign(partitionKeys: readonly string[]): void {
    const now = this.idleNow();
    this.assignedPartitions = [...partitionKeys];
    for (const key of partitionKeys) {
      if (!this.partitionMax.has(key)) this.partitionMax.set(key, -Infinity);
      // Every partition of a new assignment gets a full timeout before it may count as idle: a
      // group join follows a rebalance or a consumer restart (broker outage), during which no
      // partition could deliver; that silence is no idleness, and treating it so would let the
      // first partition to deliver again push the watermark past the others' records.
      this.lastActive.set(key, now);
    }
    const assigned = new Set(partitionKeys);
    for (const key of this.lastActive.keys()) if (!assigned.has(key)) this.lastActive.delete(key);
    // A revoked partition's clock goes with its state: if it comes back, its checkpoint restores both.
    for (const key of this.partitionMax.keys()) {
      if (assigned.has(key)) continue;
      this.partitionMax.delete(key);
      this.partitionWatermark.delete(key);
    }
    this.recompute();
  }

  /** Notes the largest event time of a batch from `partitionKey`; returns the new watermark. */
  observe(partitionKey: string, maxEventTime: number): number {
    const previous = this.partitionMax.get(partitionKey);
    if (previous === undefined) {
      // A partition we were not told about (the generator, a plain-array run): track it too.
      this.assignedPartitions.push(partitionKey);
      this.partitionMax.set(partitionKey, maxEventTime);
    } else if (maxEventTime > previous) {
      this.partitionMax.set(partitionKey, maxEventTime);
    } else if (this.idleTimeoutMs <= 0) {
      return this.current;
    }
    this.lastActive.set(partitionKey, this.idleNow());
    this.recompute();
    return this.current;
  }

  /**
   * Marks a partition active without an event time: it has fetched records that are still
   * queued, so it is not idle even though `observe` has not seen them yet.
   */
  touch(partitionKey: string): void {
    if (this.lastActive.has(partitionKey)) this.lastActive.set(partitionKey, this.idleNow());
  }

  /** Re-evaluates idleness as processing time passes; returns the (possibly advanced) watermark. */
  tick(): number {
    this.recompute();
    return this.current;
  }

  /** Stops the idle clock (nested); `resumeIdleness` restarts it. */
  pauseIdleness(): void {
    if (this.pauses++ === 0) this.pausedAt = this.wallClock();
  }

  resumeIdleness(): void {
    if (this.pauses === 0) return;
    if (--this.pauses === 0) this.pausedTotal += this.wallClock() - this.pausedAt;
  }

  /**
   * The watermark of `partitionKey`'s task: its own while it delivers, at least the topology
   * watermark while it is idle; never backwards.
   */
  watermarkOf(partitionKey: string): number {
    const previous = this.partitionWatermark.get(partitionKey) ?? -Infinity;
    const own = (this.partitionMax.get(partitionKey) ?? -Infinity) - this.outOfOrdernessMs;
    const candidate = this.isIdle(partitionKey) ? Math.max(own, this.current) : own;
    if (candidate <= previous) return previous;
    this.partitionWatermark.set(partitionKey, candidate);
    return candidate;
  }

  /** The event-time part of one partition's clock (idleness is wall-clock time and starts afresh). */
  partitionSnapshot(partitionKey: string): PartitionClockState {
    return { max: this.partitionMax.get(partitionKey) ?? -Infinity, watermark: this.partitionWatermark.get(partitionKey) ?? -Infinity };
  }

  /** Continues a partition from its checkpointed clock: its watermark never goes back behind it. */
  restorePartition(partitionKey: string, state: PartitionClockState): void {
    this.partitionMax.set(partitionKey, Math.max(state.max, this.partitionMax.get(partitionKey) ?? -Infinity));
    this.partitionWatermark.set(partitionKey, Math.max(state.watermark, this.partitionWatermark.get(partitionKey) ?? -Infinity));
  }

  /** Moves the watermark to +Infinity: bounded inputs close every window at their end. */
  finish(): number {
    this.current = Infinity;
    return this.current;
  }

  private isIdle(partitionKey: string): boolean {
    if (this.idleTimeoutMs <= 0) return false;
    const at = this.lastActive.get(partitionKey);
    return at !== undefined && this.idleNow() - at >= this.idleTimeoutMs;
  }

  /** Wall-clock time minus the time spent paused. */
  private idleNow(): number {
    const now = this.wallClock();
    return now - this.pausedTotal - (this.pauses > 0 ? now - this.pausedAt : 0);
  }

  private recompute(): void {
    if (this.assignedPartitions.length === 0) return;
    const timeout = this.idleTimeoutMs;
    const now = timeout > 0 ? this.idleNow() : 0;
    let least = Infinity;
    let idle = 0;
    // The partitions that went idle last, and their minimum (used when all are idle).
    let lastAt = -Infinity;
    let lastLeast = Infinity;
    for (const key of this.assignedPartitions) {
      const max = this.partitionMax.get(key) ?? -Infinity;
      const at = this.lastActive.get(key) ?? now;
      if (timeout > 0 && now - at >= timeout) {
        idle++;
        if (at > lastAt) [lastAt, lastLeast] = [at, max];
        else if (at === lastAt) lastLeast = Math.min(lastLeast, max);
        continue;
      }
      least = Math.min(least, max);
    }
    this.idle = idle;
    // All idle: hold at what the watermark was just before the last of them went idle (between
    // two evaluations partitions only drop out), so the result does not depend on when ticks run.
    if (idle === this.assignedPartitions.length) least = lastLeast;
    const candidate = least - this.outOfOrdernessMs;
    if (candidate > this.current) this.current = candidate;
    // An idle partition follows the topology watermark, so when it delivers again its records
    // are late against that, as they would be against the topology watermark itself.
    if (idle === 0) return;
    for (const key of this.assignedPartitions) {
      if (!this.isIdle(key)) continue;
      if ((this.partitionWatermark.get(key) ?? -Infinity) < this.current) this.partitionWatermark.set(key, this.current);
    }
  }
}
