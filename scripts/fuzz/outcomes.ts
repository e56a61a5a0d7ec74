/** What a fuzz target reports: counts by outcome, the first example of each, and failures. */

/** Outcome counts; keeps the first (short) example of each outcome so interesting inputs can be kept. */
export class Tally {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, string>();

  add(outcome: string, example?: () => string, by = 1): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + by);
    if (example !== undefined && !this.examples.has(outcome)) this.examples.set(outcome, clip(example()));
  }

  get(outcome: string): number {
    return this.counts.get(outcome) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const count of this.counts.values()) sum += count;
    return sum;
  }

  merge(counts: Record<string, number>, examples: Record<string, string> = {}): void {
    for (const [outcome, count] of Object.entries(counts)) this.counts.set(outcome, this.get(outcome) + count);
    for (const [outcome, example] of Object.entries(examples)) if (!this.examples.has(outcome)) this.examples.set(outcome, example);
  }

  toJSON(): { counts: Record<string, number>; examples: Record<string, string> } {
    const sorted = [...this.counts].sort(([a], [b]) => a.localeCompare(b));
    return { counts: Object.fromEntries(sorted), examples: Object.fromEntries(this.examples) };
  }
}

/** Memory of the process that took the hostile input, in MiB. */
export interface MemoryFigures {
  heapPeakMiB: number;
  rssStartMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  /** V8's heap limit in that process (the --max-old-space-size cap shows here). */
  heapLimitMiB?: number;
}

export interface TargetResult {
  target: string;
  cases: number;
  /** Uncaught exceptions, process deaths (out of memory included) and hangs. */
  crashes: number;
  /** Mutated tokens that were let in; only the token targets count them. */
  accepted?: number;
  /** Every reason this target failed: crashes with their input, accepted tokens, bounds passed. */
  failures: string[];
  outcomes: Record<string, number>;
  examples: Record<string, string>;
  seconds: number;
  memory: MemoryFigures;
  /** Target-specific figures (positive controls, per-schema counts, server state afterwards). */
  details: Record<string, unknown>;
}

export function passed(result: TargetResult): boolean {
  return result.crashes === 0 && (result.accepted ?? 0) === 0 && result.failures.length === 0;
}

export const MiB = 1024 * 1024;

export function toMiB(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}

function clip(text: string, max = 600): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}
