import type { SideOutputs } from '../core/batch.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface StepLabels {
  topology: string;
  step: string;
}

/**
 * Counts one pipeline step's records in and out for one batch (once per batch, never per
 * record): tributary_step_records_in_total and tributary_step_records_out_total. Both move on
 * every batch, zero included, so a step appears as soon as it has seen a batch.
 */
export function countStep(metrics: Metrics, labels: StepLabels, recordsIn: number, recordsOut: number): void {
  metrics.stepRecordsIn.inc(labels, recordsIn);
  metrics.stepRecordsOut.inc(labels, recordsOut);
}

/**
 * The same for an operator that has only its batch: the engine's metrics come with the batch's
 * state registry (batch.side.state); in plain-array runs and unit tests there are none, and
 * nothing is counted.
 *
 * @example countStepOf(batch.side, step, batch.records.length, output.length)
 */
export function countStepOf(side: SideOutputs, step: string, recordsIn: number, recordsOut: number): void {
  const runtime = side.state?.runtime;
  if (runtime !== undefined) countStep(runtime.metrics, { topology: runtime.topology, step }, recordsIn, recordsOut);
}
