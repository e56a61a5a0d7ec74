/**
 * The event-time clock of one topology instance. Each partition's watermark is the largest event
 * time it has delivered minus the allowed out-of-orderness; the topology watermark is the
 * minimum over the assigned partitions (a partition that has delivered nothing yet holds it at
 * -Infinity) and never moves backwards.
 */
export class EventTimeClock {
  private readonly outOfOrdernessMs: number;
  private readonly partitionMax = new Map<string, number>();
  private assignedPartitions: string[] = [];
  private current = -Infinity;

  constructor(outOfOrdernessMs: number) {
    this.outOfOrdernessMs = outOfOrdernessMs;
  }

  get watermark(): number {
    return this.current;
  }

  /** Replaces the set of partitions this instance reads (after a rebalance). */
  assign(partitionKeys: readonly string[]): void {
    this.assignedPartitions = [...partitionKeys];
    for (const key of partitionKeys) if (!this.partitionMax.has(key)) this.partitionMax.set(key, -Infinity);
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
    } else {
      return this.current;
    }
    this.recompute();
    return this.current;
  }

  /** Moves the watermark to +Infinity: bounded inputs close every window at their end. */
  finish(): number {
    this.current = Infinity;
    return this.current;
  }

  private recompute(): void {
    if (this.assignedPartitions.length === 0) return;
    let least = Infinity;
    for (const key of this.assignedPartitions) least = Math.min(least, this.partitionMax.get(key) ?? -Infinity);
    const candidate = least - this.outOfOrdernessMs;
    if (candidate > this.current) this.current = candidate;
  }
}
