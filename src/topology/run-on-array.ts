import { Subject } from 'rxjs';
import { untrackedToken } from '../core/ack.ts';
import type { Batch, DeadLetter, LateRecord, StreamRecord } from '../core/batch.ts';
import { errorMessage } from '../core/errors.ts';
import { EventTimeClock } from '../core/event-time-clock.ts';
import { eventTimeOf } from '../sources/event-time.ts';
import { buildOutputs, type PipelineOutputs, type TopologyDefinition } from './define-topology.ts';
import { ContractCheck, violationLetter, type ContractViolation } from '../contracts/contract-check.ts';

export interface ArrayRunResult {
  /** Values emitted per pipeline output, in order. */
  outputs: Record<string, unknown[]>;
  late: LateRecord[];
  /** Undecodable records, failed user functions, and contract violations (step `contract:<rule>`) unless the topology quarantines them. */
  deadLetters: DeadLetter[];
  /** Contract violations, when the topology declares a `quarantine` for them. */
  quarantined: ContractViolation[];
}

export interface ArrayRunOptions {
  /** Records per batch (watermarks advance between batches). Default 1000. */
  batchSize?: number;
  /** Close every window at the end, as a bounded input does. Default true. */
  closeWindows?: boolean;
  /**
   * The processing time the topology's contract judges records at (epoch ms; see
   * ContractContext). Default: each batch's largest event time, as for a replay.
   */
  processingTime?: number;
}

/**
 * Runs a topology's pipeline over an array of events, without brokers or sinks: the same
 * function, clock and windows as online, so a topology is testable as a plain function and
 * features for training come from the very definition that serves them.
 */
export async function runOnArray<TIn, O extends PipelineOutputs>(topology: TopologyDefinition<TIn, O>, events: readonly TIn[], options: ArrayRunOptions = {}): Promise<ArrayRunResult> {
  const batchSize = options.batchSize ?? 1000;
  const spec = topology.source;
  const input = new Subject<Batch<TIn>>();
  const outputs = buildOutputs(topology, input.asObservable());
  const result: ArrayRunResult = { outputs: {}, late: [], deadLetters: [], quarantined: [] };
  const contract = topology.contract ? new ContractCheck(topology.contract) : null;
  const collectSide = (batch: Batch<unknown>) => {
    result.late.push(...batch.side.late.splice(0));
    result.deadLetters.push(...batch.side.deadLetters.splice(0));
  };
  const completions = Object.entries(outputs).map(([name, stream]) => {
    const values: unknown[] = (result.outputs[name] = []);
    return new Promise<void>((resolve, reject) =>
      stream.subscribe({
        next: (batch) => {
          for (const record of batch.records) values.push(record.value);
          collectSide(batch);
        },
        error: reject,
        complete: resolve,
      }),
    );
  });
  const clock = new EventTimeClock(spec.outOfOrdernessMs);
  for (let start = 0; start < events.length; start += batchSize) {
    const records: StreamRecord<TIn>[] = [];
    const deadLetters: DeadLetter[] = [];
    let maxEventTime = -Infinity;
    for (let i = start; i < Math.min(start + batchSize, events.length); i++) {
      const value = events[i]!;
      try {
        const eventTime = eventTimeOf(spec.eventTime, value);
        if (eventTime > maxEventTime) maxEventTime = eventTime;
        records.push({ value, key: '', eventTime, topic: 'array', partition: 0, offset: String(i) });
      } catch (error) {
        deadLetters.push({ step: 'event-time', topic: 'array', partition: 0, offset: String(i), error: errorMessage(error), raw: null });
      }
    }
    let kept = records;
    if (contract !== null && records.length > 0) {
      const checked = contract.apply(records, options.processingTime ?? maxEventTime);
      if (checked.violations.length > 0) {
        kept = checked.kept;
        maxEventTime = kept.reduce((largest, record) => Math.max(largest, record.eventTime), -Infinity);
        if (topology.quarantine) result.quarantined.push(...checked.violations);
        else deadLetters.push(...checked.violations.map(violationLetter));
      }
    }
    const watermark = kept.length > 0 ? clock.observe('array:0', maxEventTime) : clock.watermark;
    const batch: Batch<TIn> = { records: kept, watermark, acks: [untrackedToken(kept.length)], side: { late: [], deadLetters } };
    input.next(batch);
    collectSide(batch);
  }
  if (options.closeWindows ?? true) {
    const batch: Batch<TIn> = { records: [], watermark: clock.finish(), acks: [], side: { late: [], deadLetters: [] } };
    input.next(batch);
    collectSide(batch);
  }
  input.complete();
  await Promise.all(completions);
  return result;
}
