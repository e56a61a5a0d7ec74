import { test } from 'node:test';
import assert from 'node:assert/strict';
import { windowEndsBetween } from '../../../src/operators/windows/window-ends.ts';
import { makeWindowSpec } from '../../../src/operators/windows/window-spec.ts';
import { SeededRandom } from '../../../src/sources/generator/random.ts';

/** By definition: every end e in (after, limit] such that some slice start s has s < e <= s + size and e - s a multiple of the hop. */
function bruteForce(starts: number[], size: number, hop: number, after: number, limit: number): number[] {
  const ends = new Set<number>();
  for (const s of starts) for (let e = s + hop; e <= s + size; e += hop) if (e > after && e <= limit) ends.add(e);
  return [...ends].sort((a, b) => a - b);
}

test('window ends a watermark step closes: small steps and long jumps, aligned and staggered, equal the definition', () => {
  const random = new SeededRandom(3);
  const shapes = [
    { spec: makeWindowSpec('tumbling', '10s', '10s', {}), phases: [0] },
    { spec: makeWindowSpec('hopping', '10s', '2s', {}), phases: [0] },
    { spec: makeWindowSpec('tumbling', '10s', '10s', { stagger: '1s' }), phases: [0, 1_000, 3_000, 7_000, 9_000] },
    { spec: makeWindowSpec('hopping', '10s', '5s', { stagger: '1s' }), phases: [0, 2_000, 4_000] },
  ];
  let compared = 0;
  for (const { spec, phases } of shapes) {
    for (let round = 0; round < 200; round++) {
      const base = 1_700_000_000_000;
      const starts = new Set<number>();
      for (let i = 0; i < 1 + random.int(12); i++) starts.add(base + phases[random.int(phases.length)]! + random.int(8) * spec.hopMs);
      const slices = new Map([...starts].map((s) => [s, null]));
      const after = base - 20_000 + random.int(60_000);
      // Steps of a few ms (the fast path) and jumps past many ends (the scan).
      const limit = after + (random.next() < 0.5 ? random.int(3_000) : random.int(200_000));
      assert.deepEqual(windowEndsBetween(spec, slices, after, limit), bruteForce([...starts], spec.sizeMs, spec.hopMs, after, limit), JSON.stringify({ spec: spec.name, starts: [...starts], after, limit }));
      compared++;
    }
  }
  assert.equal(compared, 800);
});
