import type { Observable, Subscription } from 'rxjs';
import type { Counter } from 'prom-client';
import type { Batch, DeadLetter, LateRecord, SideOutputs, StreamRecord } from '../core/batch.ts';
import { AckToken } from '../core/ack.ts';
import type { BatchTiming } from '../observability/stage-latency.ts';
import type { Sink, SinkEnvironment } from '../sinks/sink.ts';
import type { AnyTopology, PipelineOutputs } from '../topology/define-topology.ts';
import { sinkParents, type SinkTrace } from '../observability/tracing/batch-trace.ts';
import { violationLetter, type ContractViolation } from '../contracts/contract-check.ts';
import { freshnessTargets, type FreshnessTarget } from '../topology/freshness.ts';
import type { SinkGovernor } from './sink-governor.ts';
import { DeferredWrites } from './deferred-writes.ts';

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
  /** Per output, the order its sinks are written in (WebSocket channels first). */
  private readonly writeOrder = new Map<string, Sink<StreamRecord<unknown>>[]>();
  /** The WebSocket channels among them: never deferred. */
  private readonly pushes = new Set<Sink<StreamRecord<unknown>>>();
  /** Storage writes held back while a window close is pushed (deferStorageWrites); null: written at once. */
  private deferred: DeferredWrites | null = null;
  private readonly late: Sink<LateRecord> | null;
  private readonly quarantine: Sink<ContractViolation> | null;
  private readonly deadLetters: Sink<DeadLetter>[];
  private readonly all: Sink<unknown>[] = [];
  /** Every sink but the dead-letter ones, which must flush and close after them. */
  private readonly primary: Sink<unknown>[] = [];
  private readonly environment: SinkEnvironment;
  private readonly subscriptions: Subscription[] = [];
  /** Rows routed per output, for tests and the closing log line. */
  readonly routed = new Map<string, number>();
  /** Per output: the metric labels (made once), the newest event time emitted and the freshness SLO. */
  private readonly outputs = new Map<string, { labels: { topology: string; output: string }; newestEventTime: number; slo: FreshnessTarget | undefined }>();
  private readonly slos: Map<string, FreshnessTarget>;
  /**
   * The source's clock (Source.processingTime), set by the engine: records emitted older than
   * their output's freshness SLO by it are counted as stale. Unset (a backfill): none are.
   */
  processingTime: (() => number) | undefined;

  /**
   * `governor`: data protection (sink-governor.ts), which checks the sinks against the
   * topology's policies and masks what they receive; without one, sinks get rows as they are.
   */
  constructor(topology: AnyTopology, environment: SinkEnvironment, governor?: SinkGovernor) {
    // Dead-letter sinks get no deadLetter: a dead letter their destination rejects stays fatal.
    const { deadLetter: _none, ...plain } = environment;
    this.environment = plain;
    // The others send rows their destination rejects to the dead-letter sinks.
    const withDeadLetters: SinkEnvironment = { ...plain, deadLetter: (letters, acks) => this.drainSideOutputs({ late: [], deadLetters: letters.slice() }, acks) };
    for (const [output, specs] of Object.entries(topology.sinks)) {
      const sinks = (specs ?? []).map((spec) => (governor ? governor.create(spec, 'output', withDeadLetters) : spec.create(withDeadLetters)) as Sink<StreamRecord<unknown>>);
      this.byOutput.set(output, sinks);
      // WebSocket channels first: a write that fills another sink serializes its whole buffer
      // (a ClickHouse insert, a Redis pipeline) before returning, which a push need not wait for.
      const kinds = new Map(sinks.map((sink, i) => [sink, specs![i]!.kind]));
      this.writeOrder.set(output, [...sinks].sort((a, b) => Number(kinds.get(b) === 'websocket') - Number(kinds.get(a) === 'websocket')));
      for (const sink of sinks) if (kinds.get(sink) === 'websocket') this.pushes.add(sink);
      this.primary.push(...(sinks as Sink<unknown>[]));
    }
    const { late, quarantine } = topology;
    this.late = late ? (governor ? governor.create(late, 'late', withDeadLetters) : late.create(withDeadLetters)) : null;
    this.quarantine = quarantine ? (governor ? governor.create(quarantine, 'quarantine', withDeadLetters) : quarantine.create(withDeadLetters)) : null;
    this.deadLetters = [topology.deadLetter ?? []].flat().map((spec) => (governor ? governor.create(spec, 'deadLetter', plain) : spec.create(plain)));
    if (this.late) this.primary.push(this.late as Sink<unknown>);
    if (this.quarantine) this.primary.push(this.quarantine as Sink<unknown>);
    this.slos = freshnessTargets(topology.freshness);
    for (const [output, slo] of this.slos) {
      const labels = { topology: environment.topology, output };
      environment.metrics.outputFreshnessSlo.set(labels, slo.maxAgeMs / 1000);
      environment.metrics.outputFreshnessObjective.set(labels, slo.objective);
      environment.metrics.outputStaleRecords.inc(labels, 0);
    }
    this.all.push(...this.primary, ...(this.deadLetters as Sink<unknown>[]));
    environment.metrics.outputFreshness.report((gauge) => {
      const now = Date.now();
      for (const { labels, newestEventTime } of this.outputs.values()) if (Number.isFinite(newestEventTime)) gauge.set(labels, (now - newestEventTime) / 1000);
    });
  }

  async open(): Promise<void> {
    for (const sink of this.all) await sink.open();
  }

  /**
   * With WebSocket channels among the sinks: every other sink's writes wait while `busy()` (a
   * burst of closed windows is still being scored) for at most `maxDelayMs`, so the pushes of
   * the whole burst go out before any storage write serializes its buffer (deferred-writes.ts).
   */
  deferStorageWrites(options: { busy: () => boolean; maxDelayMs: number; onError: (error: unknown) => void }): void {
    if (this.pushes.size > 0) this.deferred = new DeferredWrites(options);
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
              next: (batch) => {
                // A throw here would go to RxJS's global handler, which the engine leaves alone.
                try {
                  this.route(name, batch);
                } catch (error) {
                  onError(error);
                }
              },
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
      const sinks = this.writeOrder.get(output);
      const trace = batch.side.trace;
      const sinkTrace = trace === undefined ? undefined : { tracer: trace.tracer, parents: sinkParents(trace, output) };
      const timing = batch.side.timing;
      const deferred = this.deferred;
      if (sinks) {
        for (const sink of sinks) {
          if (deferred !== null && !this.pushes.has(sink)) deferred.defer(() => writeTo(sink, output, batch, sinkTrace, timing), batch.acks);
          else writeTo(sink, output, batch, sinkTrace, timing);
        }
      }
      this.routed.set(output, (this.routed.get(output) ?? 0) + batch.records.length);
      this.countOutput(output, batch.records);
    }
    this.drainSideOutputs(batch.side, batch.acks);
  }

  /** Moves late records and dead letters to their sinks; each is counted, none is dropped silently. */
  drainSideOutputs(side: SideOutputs, acks: readonly AckToken[]): void {
    const { metrics, topology, logger } = this.environment;
    if (side.late.length > 0) {
      const late = side.late.splice(0);
      countBySteps(metrics.lateRecords, topology, late);
      if (this.late) this.late.write(late, acks);
      // Provenance only: a record's value or key never goes to a log (they may hold personal data).
      else logger.warn({ count: late.length, first: provenanceOf(late[0]!) }, 'late records and no late sink declared');
    }
    if (side.deadLetters.length > 0) {
      const dead = side.deadLetters.splice(0);
      countBySteps(metrics.deadLetters, topology, dead);
      if (this.deadLetters.length > 0) for (const sink of this.deadLetters) sink.write(dead, acks);
      else logger.error({ count: dead.length, first: provenanceOf(dead[0]!) }, 'dead letters and no deadLetter sink declared');
    }
  }

  /**
   * Records that broke the topology's contract: to the quarantine table if it has one, else to
   * the dead letters as step `contract:<rule>` (counted there like any dead letter).
   */
  routeViolations(violations: readonly ContractViolation[], acks: readonly AckToken[]): void {
    if (this.quarantine) this.quarantine.write(violations, acks);
    else this.drainSideOutputs({ late: [], deadLetters: violations.map(violationLetter) }, acks);
  }

  /**
   * tributary_output_records_total, the newest event time for tributary_output_freshness_seconds,
   * and, for an output with a freshness SLO, the records already older than it (the SLO burn).
   */
  private countOutput(output: string, records: readonly StreamRecord<unknown>[]): void {
    let entry = this.outputs.get(output);
    if (entry === undefined) this.outputs.set(output, (entry = { labels: { topology: this.environment.topology, output }, newestEventTime: -Infinity, slo: this.slos.get(output) }));
    this.environment.metrics.outputRecords.inc(entry.labels, records.length);
    let newest = entry.newestEventTime;
    for (let i = 0; i < records.length; i++) if (records[i]!.eventTime > newest) newest = records[i]!.eventTime;
    entry.newestEventTime = newest;
    if (entry.slo !== undefined && this.processingTime !== undefined) {
      const staleBefore = this.processingTime() - entry.slo.maxAgeMs;
      let stale = 0;
      for (let i = 0; i < records.length; i++) if (records[i]!.eventTime < staleBefore) stale++;
      if (stale > 0) this.environment.metrics.outputStaleRecords.inc(entry.labels, stale);
    }
  }

  isFull(): boolean {
    for (const sink of this.all) if (sink.isFull()) return true;
    return false;
  }

  async whenReady(): Promise<void> {
    for (const sink of this.all) if (sink.isFull()) await sink.whenReady();
  }

  /**
   * Every row routed so far is in its destination sink's own buffer: deferred storage writes run
   * and governed sinks have masked what they hold. A checkpoint then captures the sinks (an
   * exactly-once topic sink's pending records) without missing rows whose windows it no longer holds.
   */
  async settle(): Promise<void> {
    this.deferred?.runAll();
    await Promise.all(this.all.map((sink) => sink.settled?.()));
  }

  /** The dead-letter sinks last: flushing the others may hand them rows their destination rejected. */
  async flush(): Promise<void> {
    this.deferred?.runAll();
    await Promise.all(this.primary.map((sink) => sink.flush()));
    await Promise.all(this.deadLetters.map((sink) => sink.flush()));
  }

  /** Every sink with the output it writes and whether it is full now, for the dashboard. */
  describe(): Array<{ name: string; output: string; full: boolean }> {
    const described: Array<{ name: string; output: string; full: boolean }> = [];
    for (const [output, sinks] of this.byOutput) for (const sink of sinks) described.push({ name: sink.name, output, full: sink.isFull() });
    if (this.late) described.push({ name: this.late.name, output: 'late', full: this.late.isFull() });
    if (this.quarantine) described.push({ name: this.quarantine.name, output: 'quarantine', full: this.quarantine.isFull() });
    for (const sink of this.deadLetters) described.push({ name: sink.name, output: 'deadLetter', full: sink.isFull() });
    return described;
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.deferred?.runAll();
    try {
      await Promise.all(this.primary.map((sink) => sink.close()));
    } finally {
      await Promise.all(this.deadLetters.map((sink) => sink.close()));
    }
  }
}

function writeTo(sink: Sink<StreamRecord<unknown>>, output: string, batch: Batch<unknown>, trace: SinkTrace | undefined, timing: BatchTiming | undefined): void {
  if (timing === undefined) sink.write(batch.records, batch.acks, trace);
  else writeTimed(sink, output, batch, trace, timing);
}

/**
 * Writes with one more ack token, whose release is the moment `sink` acknowledged the rows (a
 * sink that keeps nothing, as a WebSocket channel, releases it as soon as write returns): the
 * processing and stage latencies of stage-latency.ts. One token per sink and batch, not per row.
 */
function writeTimed(sink: Sink<StreamRecord<unknown>>, output: string, batch: Batch<unknown>, trace: SinkTrace | undefined, timing: BatchTiming): void {
  const rows = batch.records.length;
  const token = new AckToken('latency', -1n, rows, () => timing.acknowledged(sink.name, rows, output !== 'raw'));
  const acks = batch.acks.slice();
  acks.push(token);
  sink.write(batch.records, acks, trace);
  token.release();
}

function provenanceOf(item: { step: string; topic: string; partition: number; offset: string }) {
  return { step: item.step, topic: item.topic, partition: item.partition, offset: item.offset };
}

/** One increment per run of items of the same step (a batch's side outputs mostly share one), not one per item. */
function countBySteps(counter: Counter<'topology' | 'step'>, topology: string, items: ReadonlyArray<{ step: string }>): void {
  let step = items[0]!.step;
  let count = 0;
  for (const item of items) {
    if (item.step !== step) {
      counter.inc({ topology, step }, count);
      step = item.step;
      count = 0;
    }
    count++;
  }
  counter.inc({ topology, step }, count);
}
