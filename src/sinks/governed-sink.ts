import { releaseAll, retainAll, type AckToken } from '../core/ack.ts';
import { asError, errorMessage } from '../core/errors.ts';
import { backoffDelayMs, isRetriable, sleep } from '../core/retry.ts';
import type { RowMasker } from '../governance/row-maskers.ts';
import type { SubjectKeys } from '../governance/value-masker.ts';
import type { Logger } from '../observability/logger.ts';
import type { BackgroundTurns } from './background-turns.ts';
import type { Sink } from './sink.ts';

/** One destination view: the sink that writes it and how its rows are masked first. */
export interface GovernedView<R> {
  sink: Sink<R>;
  masker: RowMasker<R>;
}

/** What a governed sink needs once open: its views, and the subject keys a batch needs. */
export interface OpenedGovernance<R> {
  views: GovernedView<R>[];
  cachedKeys(subjects: ReadonlySet<string>): SubjectKeys | undefined;
  loadKeys(subjects: ReadonlySet<string>): Promise<SubjectKeys>;
  /** Starts loading, without waiting, the keys that later outputs of these rows will need (input rows). */
  prefetch?: (rows: readonly R[]) => void;
}

const NO_SUBJECTS: ReadonlySet<string> = new Set();

/**
 * Applies the topology's data protection policies to a sink's rows before the sink sees them,
 * once per batch: the sink's destination never receives a tagged value its policy does not
 * allow. Batches whose subject keys are in memory (or that need none) are masked and written at
 * once; a batch that needs keys from the key store waits for one fetch, and the batches after it
 * queue behind it in order, their acks retained meanwhile. The queue counts toward `isFull()`.
 * With `background`, every batch takes that queue, and is masked and written in its turns.
 */
export class GovernedSink<R> implements Sink<R> {
  readonly name: string;
  private opened: OpenedGovernance<R> | null = null;
  private queue: Promise<void> | null = null;
  private queuedRows = 0;
  private fatal: Error | null = null;

  constructor(
    name: string,
    private readonly open$: () => Promise<OpenedGovernance<R>>,
    private readonly logger: Logger,
    private readonly fail: (error: unknown) => void,
    private readonly maxQueuedRows = 50_000,
    /** Where masking waits for the close path (sinks other than WebSocket channels); none: at once. */
    private readonly background?: BackgroundTurns,
  ) {
    this.name = name;
  }

  async open(): Promise<void> {
    this.opened = await this.open$();
    for (const view of this.opened.views) await view.sink.open();
  }

  write(rows: readonly R[], acks: readonly AckToken[]): void {
    if (this.fatal) throw this.fatal;
    if (rows.length === 0) return;
    const opened = this.opened!;
    opened.prefetch?.(rows);
    const subjects = new Set<string>();
    for (const view of opened.views) view.masker.subjects(rows, subjects);
    if (this.queue === null && this.background === undefined) {
      const keys = subjects.size === 0 ? new Map() : opened.cachedKeys(subjects);
      if (keys !== undefined) return this.writeMasked(rows, acks, keys);
    }
    // Keys to fetch, batches ahead still waiting for theirs, or masking that waits for the close
    // path: in order, behind them, with the acks held until written.
    retainAll(acks);
    this.queuedRows += rows.length;
    const ahead = this.queue ?? Promise.resolve();
    const done = ahead
      .then(() => this.keysFor(subjects.size === 0 ? NO_SUBJECTS : subjects))
      .then((keys) => (this.background === undefined ? this.writeMasked(rows, acks, keys) : this.background.run(rows.length, (from, to) => this.writeMasked(to - from === rows.length ? rows : rows.slice(from, to), acks, keys))))
      .catch((error: unknown) => this.failWith(error))
      .finally(() => {
        releaseAll(acks);
        this.queuedRows -= rows.length;
        if (this.queue === done) this.queue = null;
      });
    this.queue = done;
  }

  isFull(): boolean {
    if (this.fatal !== null || this.queuedRows >= this.maxQueuedRows) return true;
    for (const view of this.opened?.views ?? []) if (view.sink.isFull()) return true;
    return false;
  }

  async whenReady(): Promise<void> {
    while (this.queue !== null && this.queuedRows >= this.maxQueuedRows) await this.queue;
    if (this.fatal) throw this.fatal;
    for (const view of this.opened?.views ?? []) if (view.sink.isFull()) await view.sink.whenReady();
  }

  async flush(): Promise<void> {
    await this.drainQueue();
    await Promise.all((this.opened?.views ?? []).map((view) => view.sink.flush()));
  }

  async close(): Promise<void> {
    try {
      await this.drainQueue();
    } finally {
      await Promise.all((this.opened?.views ?? []).map((view) => view.sink.close()));
    }
  }

  /** Rows waiting for keys or for their masking turns are handed on (a checkpoint captures the sinks next). */
  settled(): Promise<void> {
    return this.drainQueue();
  }

  private async drainQueue(): Promise<void> {
    while (this.queue !== null) await this.queue;
    if (this.fatal) throw this.fatal;
  }

  private writeMasked(rows: readonly R[], acks: readonly AckToken[], keys: SubjectKeys): void {
    for (const view of this.opened!.views) view.sink.write(view.masker.mask(rows, keys), acks);
  }

  /** The keys of a batch; a key store that is down is retried with backoff (the queue then fills and the engine waits). */
  private async keysFor(subjects: ReadonlySet<string>): Promise<SubjectKeys> {
    if (subjects.size === 0) return new Map();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.opened!.loadKeys(subjects);
      } catch (error) {
        if (!isRetriable(error)) throw error;
        const delayMs = backoffDelayMs(attempt, 200, 5_000);
        this.logger.warn({ sink: this.name, attempt, delayMs, err: errorMessage(error) }, `sink ${this.name}: reading subject keys failed (${errorMessage(error)}), retrying in ${delayMs} ms`);
        await sleep(delayMs);
      }
    }
  }

  private failWith(error: unknown): void {
    if (this.fatal) return;
    this.fatal = asError(error);
    this.logger.error({ sink: this.name, err: errorMessage(error) }, `sink ${this.name}: masking failed: ${errorMessage(error)}`);
    this.fail(this.fatal);
  }
}
