import { AckToken } from '../../core/ack.ts';
import { toMillis, type Duration } from '../../core/duration.ts';
import type { DeadLetter, StreamRecord } from '../../core/batch.ts';
import { ConfigError, errorMessage } from '../../core/errors.ts';
import { eventTimeOf } from '../event-time.ts';
import type { Source, SourceContext, SourceSpec } from '../source.ts';

export interface GeneratorOptions<T> {
  name?: string;
  /** Creates the event factory; called once per source instance. */
  events: () => { next(nominalTime: number): T };
  eventTime: (value: T) => number;
  /** Events per second of event time. */
  eventsPerSecond: number;
  /** Event time starts this far in the past and catches up with the wall clock at `speedup`. */
  startBehind?: Duration;
  /** How much faster than real time event time runs while catching up. Default 20. */
  speedup?: number;
  /** 'realtime' follows the clock; 'max' emits as fast as the engine takes them (benchmarks). */
  pace?: 'realtime' | 'max';
  /** Stop after this many events (bounded runs); default unbounded. */
  limit?: number;
  /** Event time of the first event for pace 'max' (default: now - startBehind). */
  startTime?: number;
  batchIntervalMs?: number;
  outOfOrderness?: Duration;
}

/**
 * A built-in source of synthetic events for the embedded demo and benchmarks, deterministic for
 * a seed. Event time starts behind the wall clock and catches up quickly, so windows close (and
 * dashboards fill) within seconds of starting.
 */
export function generatorSource<T>(options: GeneratorOptions<T>): SourceSpec<T> {
  if (!(options.eventsPerSecond > 0)) throw new ConfigError('demoSource.eventsPerSecond', `${options.eventsPerSecond} is not a positive rate`, 'use e.g. eventsPerSecond: 200');
  return {
    description: `generator ${options.name ?? 'events'} at ${options.eventsPerSecond}/s`,
    outOfOrdernessMs: toMillis(options.outOfOrderness ?? '5s', 'demoSource.outOfOrderness'),
    eventTime: options.eventTime,
    create: (environment) => new GeneratorSource(options, environment.maxChunkRecords),
  };
}

class GeneratorSource<T> implements Source<T> {
  readonly description: string;
  private readonly options: GeneratorOptions<T>;
  private readonly chunk: number;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private produced = 0;
  /** The simulated "now": event time catching up with the wall clock (see processingTime). */
  private eventClock = Date.now();

  constructor(options: GeneratorOptions<T>, chunk: number) {
    this.options = options;
    this.chunk = chunk;
    this.description = `generator ${options.name ?? 'events'}`;
  }

  async start(context: SourceContext<T>): Promise<void> {
    this.running = true;
    context.assigned(['generator:0']);
    this.loop = this.run(context).catch((error) => context.fail(error));
  }

  private async run(context: SourceContext<T>): Promise<void> {
    const { options } = this;
    const factory = options.events();
    const intervalMs = options.batchIntervalMs ?? 100;
    const speedup = options.speedup ?? 20;
    const gapMs = 1000 / options.eventsPerSecond;
    const limit = options.limit ?? Infinity;
    let realPrevious = Date.now();
    this.eventClock = options.startTime ?? realPrevious - toMillis(options.startBehind ?? 0, 'demoSource.startBehind');
    let nominal = this.eventClock;
    while (this.running && this.produced < limit) {
      if (options.pace === 'max') {
        this.eventClock = nominal + gapMs * this.chunk;
      } else {
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        const realNow = Date.now();
        this.eventClock = Math.min(realNow, this.eventClock + (realNow - realPrevious) * (this.eventClock < realNow ? speedup : 1));
        realPrevious = realNow;
      }
      while (nominal < this.eventClock && this.produced < limit && this.running) {
        const records: StreamRecord<T>[] = [];
        const deadLetters: DeadLetter[] = [];
        let maxEventTime = -Infinity;
        for (let size = 0; nominal < this.eventClock && size < this.chunk && this.produced < limit; size++) {
          const value = factory.next(nominal);
          const offset = String(this.produced++);
          nominal += gapMs;
          try {
            const eventTime = eventTimeOf(options.eventTime, value);
            if (eventTime > maxEventTime) maxEventTime = eventTime;
            records.push({ value, key: '', eventTime, topic: 'generator', partition: 0, offset });
          } catch (error) {
            deadLetters.push({ step: 'event-time', topic: 'generator', partition: 0, offset, error: errorMessage(error), raw: null });
          }
        }
        const token = new AckToken('generator:0', BigInt(this.produced - 1), records.length + deadLetters.length, () => {});
        await context.push({ partitionKey: 'generator:0', records, deadLetters, maxEventTime, token });
      }
    }
    if (this.produced >= limit) context.end();
  }

  /** The generator's simulated clock: while it replays the past at `speedup`, "now" is that past. */
  processingTime(): number {
    return this.eventClock;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async commit(): Promise<void> {}

  async close(): Promise<void> {}
}
