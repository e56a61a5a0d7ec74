/**
 * Sink work that may wait for the close path: masking rows for tables and online state, whose
 * tokens and keyed hashes cost more CPU than the scoring they follow (a window close of 7,000
 * cards: 60,000 tokens). Jobs run in event-loop turns (setImmediate) of at most `sliceMs`, a slice
 * of `sliceRows` rows at a time, first come first served; between turns the loop runs whatever
 * else is due, so a burst's scored chunks reach the WebSocket channels before its rows are
 * masked for the other sinks instead of after. With nothing else due, turns follow each other
 * at once: work is delayed only by what has to go first, never left waiting.
 */
export class BackgroundTurns {
  private readonly jobs: Job[] = [];
  private scheduled = false;

  constructor(
    private readonly sliceMs = 4,
    private readonly sliceRows = 128,
  ) {}

  /** Runs `work(from, to)` over [0, rows) in slices; settles when the last has run (or one threw). */
  run(rows: number, work: (from: number, to: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.jobs.push({ rows, at: 0, work, resolve, reject });
      this.schedule();
    });
  }

  /** Jobs not finished yet. */
  get pending(): number {
    return this.jobs.length;
  }

  private schedule(): void {
    if (this.scheduled || this.jobs.length === 0) return;
    this.scheduled = true;
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    this.scheduled = false;
    const until = performance.now() + this.sliceMs;
    do {
      const job = this.jobs[0]!;
      const to = Math.min(job.rows, job.at + this.sliceRows);
      try {
        job.work(job.at, to);
      } catch (error) {
        this.jobs.shift();
        job.reject(error);
        continue;
      }
      job.at = to;
      if (job.at >= job.rows) {
        this.jobs.shift();
        job.resolve();
      }
    } while (this.jobs.length > 0 && performance.now() < until);
    this.schedule();
  };
}

interface Job {
  rows: number;
  at: number;
  work: (from: number, to: number) => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}
