import type { Observable } from 'rxjs';
import type { Batch } from '../../src/core/batch.ts';
import { filter } from '../../src/operators/filter.ts';
import { keyBy } from '../../src/operators/key-by.ts';
import { intervalJoin } from '../../src/operators/interval-join.ts';
import { aggregate } from '../../src/operators/windows/aggregate.ts';
import { avg, count, distinctCount, first, last, max, min, stddev, sum } from '../../src/operators/windows/aggregations.ts';
import { hopping } from '../../src/operators/windows/hopping.ts';
import { sessionWindows } from '../../src/operators/windows/session.ts';
import { approxDistinct, quantiles, topK } from '../../src/operators/windows/sketch-aggregations.ts';
import { sliding } from '../../src/operators/windows/sliding.ts';
import { tumbling } from '../../src/operators/windows/tumbling.ts';
import type { Outputs } from './restart-harness.ts';
import type { Event } from './window-property.ts';

/** Every aggregation, the sketches with small capacities so their lossy paths run too. */
export function everyAggregation() {
  const v = (e: Event) => e.v;
  return {
    n: count<Event>(),
    total: sum(v),
    lo: min(v),
    hi: max(v),
    mean: avg(v),
    earliest: first(v),
    latest: last(v),
    spread: stddev(v),
    distinct: distinctCount(v),
    q: quantiles(v, [0, 0.25, 0.5, 0.9, 1]),
    approx: approxDistinct((e: Event) => `${e.k}:${e.v}`, { precision: 4 }),
    top: topK(v, 2, { capacity: 3 }),
  };
}

/** Window lengths of the stateful pipeline, in ms (events sit on a 250 ms grid). */
export interface PipelineShape {
  size: number;
  grace: number;
  gap: number;
}

/** Join rows: the left and right event values and key (right null when unmatched). */
const pair = (l: Event, r: Event | undefined) => ({ k: l.k, lt: l.t, l: l.v, rt: r?.t ?? null, r: r?.v ?? null });

/**
 * One output per kind of stateful step over the same events (distinct step names): tumbling,
 * hopping, emit 'current', allowed lateness with revisions, session, sliding, and the interval
 * join inner and left (left: even values, right: odd values).
 */
export function statefulPipeline(shape: PipelineShape = { size: 1_000, grace: 500, gap: 750 }) {
  const { size, grace, gap } = shape;
  return (events: Observable<Batch<Event>>): Outputs => {
    const keyed = events.pipe(keyBy((e) => e.k));
    const left = events.pipe(filter((e) => e.v % 2 === 0), keyBy((e) => e.k));
    const right = events.pipe(filter((e) => e.v % 2 !== 0), keyBy((e) => e.k));
    return {
      tumbling: keyed.pipe(tumbling(size, { grace }), aggregate(everyAggregation())),
      hopping: keyed.pipe(hopping(2 * size, size / 2, { grace: grace / 2 }), aggregate(everyAggregation())),
      current: keyed.pipe(tumbling(size, { emit: 'current' }), aggregate({ n: count(), total: sum((e: Event) => e.v), latest: last((e: Event) => e.v) }, { name: 'current' })),
      lateness: keyed.pipe(hopping(size, size / 2, { grace: grace / 2, allowedLateness: 3 * size }), aggregate({ n: count(), q: quantiles((e: Event) => e.v, [0.5]), distinct: distinctCount((e: Event) => e.v) }, { name: 'lateness' })),
      session: keyed.pipe(sessionWindows({ gap, grace: grace / 2 }, everyAggregation())),
      sliding: keyed.pipe(sliding({ size, grace }, everyAggregation())),
      inner: intervalJoin(left, right, { within: size / 2, grace: grace / 2, combine: pair, name: 'inner' }),
      leftJoin: intervalJoin(left, right, { within: size / 2, grace, type: 'left', combine: pair, name: 'left-join' }),
    } as Outputs;
  };
}
