import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slopePerMinute, soakSvg, type SoakSample } from '../../../scripts/soak/chart.ts';

const at = (minutes: number, rssMb: number, openWindows = 100): SoakSample => ({ minutes, rssMb, heapUsedMb: 0, openWindows, lagRecords: 0, produced: 0 });

test('the RSS slope is the least-squares fit per minute', () => {
  // Exact lines, then deviations (0, -1, 0, +1) around 200: sum(dx*dy) = 2 over sum(dx²) = 5.
  assert.equal(slopePerMinute([at(5, 110), at(6, 112), at(7, 114)], (s) => s.rssMb), 2);
  assert.equal(slopePerMinute([at(5, 111), at(6, 112), at(7, 113), at(8, 114)], (s) => s.rssMb), 1);
  assert.equal(slopePerMinute([at(5, 200), at(6, 199), at(7, 200), at(8, 201)], (s) => s.rssMb), 0.4);
  assert.ok(Number.isNaN(slopePerMinute([at(5, 1)], (s) => s.rssMb)));
});

test('the chart draws both series and escapes its title', () => {
  const svg = soakSvg([at(0, 100, 10), at(1, 120, 20)], 'soak <5,000/s> & more');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.match(svg, /soak &lt;5,000\/s> &amp; more/);
});
