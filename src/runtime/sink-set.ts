import type { Observable, Subscription } from 'rxjs';
import type { Batch, DeadLetter, LateRecord, SideOutputs, StreamRecord } from '../core/batch.ts';
import type { AckToken } from '../core/ack.ts';
import type { Sink, SinkEnvironment } from '../sinks/sink.ts';
import type { AnyTopology, PipelineOutputs } from '../topology/define-topology.ts';

/** One pipeline instance's output streams, subscribed to the sinks. */
export interface SinkConnection {
  /** Resolves once every output stream has ended. */
  done: Promise<void>;
  /** Unsubscribes every output stream (its rows no longer reach the sinks). */
  close(): void;
}

/**
 * The topology's sinks, instantiated: routes each pipeline output, the raw events and the side
 * outputs (late records, dead letters) to them, and answers whether all of them have room.
 */
export class SinkSet {
  private readonly byOutput = new Map<string, Sink<StreamRecord<unknown>>[]>();
  private readonly late: Sink<LateRecord> | null;
  private readonly deadLetters: Sink<DeadLetter>[];
  private readonly all: Sink<unknown>[] = [];
  /** Every sink but the dead-letter ones, which must flush and close after them. */
  private readonly primary: Sink<unknown>[] = [];
  private readonly environment: SinkEnvironment;
  private readonly subscriptions: Subscription[] = [];
  /** Rows routed per output, for tests and the closing log line. */
  readonly routed = new Map<string, number>();

  constructor(topology: AnyTopology, environment: SinkEnvironment) {
    // Dead-letter sinks get no deadLetter: a dead letter their destination rejects stays fatal.
    const { deadLetter: _none, ...plain } = environment;
    this.environment = plain;
    // The others send rows their destination rejects to the dead-letter sinks.
    const withDeadLetters: SinkEnvironment = { ...plain, deadLetter: (letters, acks) => this.drainSideOutputs({ late: [], deadLetters: letters.slice() }, acks) };
    for (const [output, specs] of Object.entries(topology.sinks)) {
      const sinks = (specs ?? []).map((spec) => spec.create(withDeadLetters) as Sink<StreamRecord<unknown>>);
      this.byOutput.set(output, sinks);
      this.primary.push(...(sinks as Sink<unknown>[]));
    }
    this.late = topology.late ? topology.late.create(withDeadLetters) : null;
    this.deadLetters = [topology.deadLetter ?? []].flat().map((spec) => spec.create(plain));
    if (this.late) this.primary.push(this.late as Sink<unknown>);
    this.all.push(...this.primary, ...(this.deadLetters as Sink<unknown>[]));
  }

  async open(): Promise<void> {
    for (const sink of this.all) await sink.open();
  }

  /**
   * Subscribes every output stream of one pipeline instance (a partition task); `onError`
   * receives a stream failure (a bug, not bad input). `done` resolves once every stream ended;
   * `close` unsubscribes them, for a task dropped after its partition was revoked.
   */
  connect(outputs: PipelineOutputs, onError: (error: unknown) => void): SinkConnection {
    const completions: Promise<void>[] = [];
    const subscriptions: Subscription[] = [];
    for (const [name, stream] of Object.entries(outputs)) {
      completions.push(
        new Promise<void>((resolve) => {
          subscriptions.push(
            (stream as Observable<Batch<unknown>>).subscribe({
              next: (batch) => this.route(name, batch),
              error: (error) => {
                onError(error);
                resolve();
              },
              complete: () => resolve(),
            }),
          );
        }),
      );
    }
    this.subscriptions.push(...subscriptions);
    return {
      done: Promise.all(completions).then(() => undefined),
      close: () => {
        for (const subscription of subscriptions) {
          subscription.unsubscribe();
          this.subscriptions.splice(this.subscriptions.indexOf(subscription), 1);
        }
      },
    };
  }

  /** Writes a batch's records to the sinks of `output` and its side outputs to theirs. */
  route(output: string, batch: Batch<unknown>): void {
    if (batch.records.length > 0) {
      const sinks = this.byOutput.get(output);
      if (sinks) for (const sink of sinks) sink.write(batch.records, batch.acks);
      this.routed.set(output, (this.routed.get(output) ?? 0) + batch.records.length);
    }
    this.drainSideOutputs(batch.side, batch.acks);
  }

  /** Moves late records and dead letters to their sinks; each is counted, none is dropped silently. */
  drainSideOutputs(side: SideOutputs, acks: readonly AckToken[]): void {
    const { metrics, topology, logger } = this.environment;
    if (side.late.length > 0) {
      const late = side.late.splice(0);
      for (const record of late) metrics.lateRecords.inc({ topology, step: record.step });
      if (this.late) this.late.write(late, acks);
      else logger.warn({ count: late.length, first: late[0] }, 'late records and no late sink declared');
    }
    if (side.deadLetters.length > 0) {
      const dead = side.deadLetters.splice(0);
      for (const letter of dead) metrics.deadLetters.inc({ topology, step: letter.step });
      if (this.deadLetters.length > 0) for (const sink of this.deadLetters) sink.write(dead, acks);
      else logger.error({ count: dead.length, first: { ...dead[0], raw: undefined } }, 'dead letters and no deadLetter sink declared');
    }
  }

  isFull(): boolean {
    for (const sink of this.all) if (sink.isFull()) return true;
    return false;
  }

  async whenReady(): Promise<void> {
    for (const sink of this.all) if (sink.isFull()) await sink.whenReady();
  }

  /** The dead-letter sinks last: flushing the others may hand them rows their destination rejected. */
  async flush(): Promise<void> {
    await Promise.all(this.primary.map((sink) => sink.flush()));
    await Promise.all(this.deadLetters.map((sink) => sink.flush()));
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    try {
      await Promise.all(this.primary.map((sink) => sink.close()));
    } finally {
      await Promise.all(this.deadLetters.map((sink) => sink.close()));
    }
  }
}
