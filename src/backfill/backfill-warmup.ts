import type { AckToken } from '../core/ack.ts';
import type { Sink, SinkSpec } from '../sinks/sink.ts';
import type { AnyTopology } from '../topology/define-topology.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';

/**
 * The default warm-up: how long before `from` the backfill starts reading, so that the windows
 * that cross `from` see all their events. The lookback of the lifecycle's feature set (its longest
 * window), else 0.
 */
export function backfillWarmupMs(topology: AnyTopology): number {
  const lifecycle = (topology as { lifecycle?: LifecycleSpec }).lifecycle;
  return lifecycle?.featureSet.lookbackMs ?? 0;
}

/** Rows not written per output (and 'late'), because they belong to windows that end by --from. */
export type WarmupSkips = Record<string, number>;

/**
 * The same sink, writing only the rows with event time >= `from`. A window's row carries its
 * end - 1 as event time, so the rows kept are those of windows that end after --from: the
 * windows the warm-up fed completely, not the ones before the range that it only started.
 */
export function fromEventTime<T>(spec: SinkSpec<T>, from: number, output: string, skipped: WarmupSkips): SinkSpec<T> {
  return { ...spec, create: (environment) => new FromEventTimeSink(spec.create(environment), from, output, skipped) };
}

class FromEventTimeSink<T> implements Sink<T> {
  readonly name: string;

  constructor(
    private readonly sink: Sink<T>,
    private readonly from: number,
    private readonly output: string,
    private readonly skipped: WarmupSkips,
  ) {
    this.name = sink.name;
  }

  write(rows: readonly T[], acks: readonly AckToken[]): void {
    let before = 0;
    for (let i = 0; i < rows.length; i++) if (eventTimeOf(rows[i]) < this.from) before++;
    if (before > 0) this.skipped[this.output] = (this.skipped[this.output] ?? 0) + before;
    // The common case after the warm-up: the batch as it came, no copy.
    if (before === 0) this.sink.write(rows, acks);
    else if (before < rows.length) this.sink.write(rows.filter((row) => eventTimeOf(row) >= this.from), acks);
  }

  open(): Promise<void> {
    return this.sink.open();
  }
  isFull(): boolean {
    return this.sink.isFull();
  }
  whenReady(): Promise<void> {
    return this.sink.whenReady();
  }
  flush(): Promise<void> {
    return this.sink.flush();
  }
  close(): Promise<void> {
    return this.sink.close();
  }
}

/** Output records and late records carry an event time; a row without one is always kept. */
function eventTimeOf(row: unknown): number {
  const time = (row as { eventTime?: unknown }).eventTime;
  return typeof time === 'number' ? time : Infinity;
}
