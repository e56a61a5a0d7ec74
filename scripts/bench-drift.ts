/**
 * What drift monitoring costs the score step: rows counted per second by DriftBuckets.observe
 * (7 histograms: card-fraud's 6 inputs and the score, the shipped model's baseline), in
 * micro-batches of 4,096 rows of one window end (card-fraud scores a window end at a time).
 * Reports CPU time per row (and wall time, which other work on the machine inflates).
 *
 *   node --import tsx scripts/bench-drift.ts
 */
import { readFileSync } from 'node:fs';
import { DriftBuckets } from '../src/scoring/drift-buckets.ts';
import type { DriftBaseline } from '../src/registry/drift-baseline.ts';

const baseline = (JSON.parse(readFileSync(new URL('../models/fraud-lr.json', import.meta.url), 'utf8')) as { baseline: DriftBaseline }).baseline;
const rows = 4_096;
const width = 6;
const features = new Float32Array(rows * width);
const scores = new Float32Array(rows);
const times = new Float64Array(rows);
let seed = 1;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
for (let r = 0; r < rows; r++) {
  for (let j = 0; j < width; j++) features[r * width + j] = j % 3 === 0 ? Math.floor(random() * 8) : random() * 7;
  scores[r] = random() * 0.01;
  times[r] = 120_000 - 1; // one window end per micro-batch, as card-fraud scores them
}
const buckets = new DriftBuckets(baseline, 60_000);
for (let i = 0; i < 200; i++) buckets.observe(features, rows, width, scores, times); // warm-up
const rounds = 2_000;
const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
for (let i = 0; i < rounds; i++) buckets.observe(features, rows, width, scores, times);
const ns = Number(process.hrtime.bigint() - started);
const used = process.cpuUsage(cpu);
// CPU time, not wall time: on a shared machine the process waits for a core now and then.
const cpuNs = (used.user + used.system) * 1_000;
const perRow = cpuNs / (rounds * rows);
console.log(`drift counting: ${perRow.toFixed(1)} ns of CPU per scored row (${(1_000 / perRow).toFixed(1)}M rows per CPU second; wall ${(ns / (rounds * rows)).toFixed(1)} ns), ${((perRow * rows) / 1000).toFixed(1)} us per 4,096-row micro-batch`);
