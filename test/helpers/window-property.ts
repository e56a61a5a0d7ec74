import fc from 'fast-check';
import type { Observable } from 'rxjs';
import type { Batch, LateRecord } from '../../src/core/batch.ts';
import { defineTopology, type PipelineOutputs } from '../../src/topology/define-topology.ts';
import { generatorSource } from '../../src/sources/generator/generator-source.ts';

/** The keyed, timed, valued event of the window property tests. */
export interface Event {
  k: string;
  t: number;
  v: number;
}

/**
 * A topology over Events for runOnArray: the source only supplies event time and
 * out-of-orderness, the pipeline is the window step under test.
 */
export function eventTopology<O extends PipelineOutputs>(name: string, outOfOrderness: number, pipeline: (events: Observable<Batch<Event>>) => O) {
  return defineTopology({
    name,
    source: generatorSource<Event>({ events: () => ({ next: () => ({ k: 'a', t: 0, v: 0 }) }), eventTime: (e) => e.t, eventsPerSecond: 1, outOfOrderness }),
    pipeline,
    sinks: {},
  });
}

/**
 * Event lists on a 250 ms grid: time moves forward by `step` grid units per event and each
 * event sits `behind` units back, so disorder, exact window edges and equal times are common.
 */
export function randomEventLists(draw: { keys: readonly string[]; step: fc.Arbitrary<number>; behind: fc.Arbitrary<number>; value?: fc.Arbitrary<number>; maxLength?: number }): fc.Arbitrary<Event[]> {
  return fc
    .array(fc.record({ k: fc.constantFrom(...draw.keys), step: draw.step, behind: draw.behind, v: draw.value ?? fc.integer({ min: -20, max: 20 }) }), {
      minLength: 1,
      maxLength: draw.maxLength ?? 250,
      size: 'max',
    })
    .map((draws) => {
      let now = 1_700_000_000_000;
      return draws.map(({ k, step, behind, v }): Event => {
        now += step * 250;
        return { k, t: now - behind * 250, v };
      });
    });
}

/** The fields of late records a reference can compute (the step is checked separately). */
export function lateSummary(late: readonly LateRecord[]) {
  return late.map((l) => ({ key: l.key, eventTime: l.eventTime, watermark: l.watermark, value: l.value }));
}
