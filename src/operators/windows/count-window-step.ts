import type { SideOutputs } from '../../core/batch.ts';
import { countStepOf } from '../step-counts.ts';

/**
 * A window step's records in and out for one batch, and the windows it emitted
 * (tributary_windows_closed_total): once per batch, only inside an engine.
 */
export function countWindowStep(side: SideOutputs, step: string, recordsIn: number, windowsOut: number): void {
  countStepOf(side, step, recordsIn, windowsOut);
  const runtime = side.state?.runtime;
  if (runtime !== undefined && windowsOut > 0) runtime.metrics.windowsClosed.inc({ topology: runtime.topology, step }, windowsOut);
}
