import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditEvent, AuditTrail } from './audit-trail.ts';
import { eventFields, type AuditEntry } from './audit-entry.ts';
import { AuditWriteError, ChainFile, type ChainFileOptions } from './chain-file.ts';

/** Where appended entries are copied (the ClickHouse table). */
export interface AuditMirror {
  offer(entries: readonly AuditEntry[]): void;
  close(): Promise<void>;
}

export interface AuditLogOptions extends Omit<ChainFileOptions, 'onTornTail'> {
  /** The JSON-lines file (TRIBUTARY_AUDIT_LOG). */
  file: string;
  logger: Logger;
  metrics?: Metrics;
  mirror?: AuditMirror;
  /**
   * Keep the entries appended before a mirror is attached (at most 1,000) and hand them to it on
   * mirrorTo(): the engine records its start before it knows whether it has a ClickHouse.
   */
  holdForMirror?: boolean;
}

const MAX_HELD = 1_000;

interface Waiting {
  event: AuditEvent;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The audit trail: a hash-chained JSON-lines file (the record; chain-file.ts) and optionally a
 * mirror (the ClickHouse table). record() resolves once the entry is fsynced. Events recorded
 * while an append is under way are appended together by the next one (one lock, one fsync).
 */
export class AuditLog implements AuditTrail {
  readonly file: ChainFile;
  private mirror: AuditMirror | undefined;
  private queue: Waiting[] = [];
  private draining: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private held: AuditEntry[] | undefined;

  constructor(private readonly options: AuditLogOptions) {
    this.file = new ChainFile(options.file, {
      ...options,
      onTornTail: (bytes) => options.logger.warn({ file: this.file.path, bytes }, 'audit log: cut off a torn last line (a writer died mid-append; that entry was never acknowledged)'),
    });
    this.mirror = options.mirror;
    if (options.holdForMirror && this.mirror === undefined) this.held = [];
  }

  get path(): string {
    return this.file.path;
  }

  /** Copies entries appended from now on to `mirror` (a table opened once the engine has ClickHouse). */
  mirrorTo(mirror: AuditMirror): void {
    this.mirror = mirror;
    if (this.held !== undefined) mirror.offer(this.held);
    this.held = undefined;
  }

  /** No mirror is coming: forget the held entries (the file has them). */
  withoutMirror(): void {
    this.held = undefined;
  }

  record(event: AuditEvent): Promise<void> {
    if (this.closing) return Promise.reject(new AuditWriteError(`audit log ${this.path} is closed: nothing more is recorded`));
    let checked: AuditEvent;
    try {
      checked = eventFields(event); // a malformed event fails alone, not the batch it would join
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event: checked, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once an entry could be appended now (the file opens, its last entry reads); nothing is written. */
  check(): Promise<void> {
    return this.file.check();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.draining;
      await this.mirror?.close();
    })();
    return this.closing;
  }

  /** Clears `draining` in the same turn as it sees the queue empty, so a record() right after finds it clear. */
  private async drain(): Promise<void> {
    for (;;) {
      const batch = this.queue;
      this.queue = [];
      if (batch.length === 0) {
        this.draining = undefined;
        return;
      }
      try {
        const entries = await this.file.append(batch.map((waiting) => waiting.event));
        this.options.metrics?.auditEntries.inc(entries.length);
        if (this.mirror !== undefined) this.mirror.offer(entries);
        else if (this.held !== undefined && this.held.length + entries.length <= MAX_HELD) this.held.push(...entries);
        for (const waiting of batch) waiting.resolve();
      } catch (error) {
        this.options.metrics?.auditWriteFailures.inc(batch.length);
        for (const waiting of batch) waiting.reject(error);
      }
    }
  }
}
