/**
 * The close path's own cost, in this process, with nothing else on the machine's CPUs: per card,
 * the card-fraud features (1-minute tumbling and 5-minute hopping windows, joined), scored by the
 * real ONNX model (models/fraud-lr.onnx, micro-batched), each prediction serialised, numbered and
 * remembered by a WebSocket channel and cut into batch frames, as the push server does. No Kafka,
 * no sinks, no sockets: what `bench:latency` measures under load on a shared machine, this
 * measures alone, so a change to the close path can be compared in a few seconds.
 *
 *   npm run bench:close -- [--cards 10000] [--minutes 12] [--per-minute 3]
 *
 * Payments of --per-minute a card a minute go in batches of 2,000 with the watermark 5 s behind;
 * each minute's first batch past the grace closes every card's windows. Reported per close (after
 * two warm-up closes): ms from the closing batch to the features, to the first scored chunk and
 * to the last prediction's frame, and the GC pauses in between (median and max over the closes).
 */
import { Command } from 'commander';
import { PerformanceObserver } from 'node:perf_hooks';
import { Subject, share } from 'rxjs';
import { cardFeatures, fraudFeatureVector, FRAUD_FEATURE_NAMES, WINDOW_GRACE, type CardFeatures } from '../topologies/card-fraud-features.ts';
import { toMillis } from '../src/core/duration.ts';
import { DEFAULT_MODEL_PATH, toPrediction, type FraudPrediction } from '../topologies/card-fraud.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../src/core/batch.ts';
import { untrackedToken } from '../src/core/ack.ts';
import { score } from '../src/operators/score.ts';
import { ChannelState } from '../src/push/channel-state.ts';
import { itemJson } from '../src/push/frames.ts';
import type { Payment } from '../src/sources/generator/card-payments.ts';
import { wholeNumber } from './bench/options.ts';

const opts = new Command()
  .name('bench-close-path')
  .option('--cards <n>', 'cards, each with windows closing every minute', wholeNumber, 10_000)
  .option('--minutes <n>', 'minutes of event time (closes: minutes - 1, the first two are warm-up)', wholeNumber, 12)
  .option('--per-minute <n>', 'payments per card and minute', wholeNumber, 3)
  .parse(process.argv)
  .opts<{ cards: number; minutes: number; perMinute: number }>();

const BATCH = 2_000;
const GRACE_MS = toMillis(WINDOW_GRACE);
const BATCH_FRAME_ITEMS = 300; // about the push server's 128 KiB batch frames

let gcMs = 0;
new PerformanceObserver((list) => list.getEntries().forEach((entry) => (gcMs += entry.duration))).observe({ entryTypes: ['gc'] });

const input = new Subject<Batch<Payment>>();
const features = cardFeatures(input).pipe(share());
let featuresAt = 0;
features.subscribe((batch) => batch.records.length > 0 && (featuresAt = performance.now()));
const predictions = features.pipe(
  score<CardFeatures, FraudPrediction>(DEFAULT_MODEL_PATH, {
    name: 'fraud-score',
    featureNames: FRAUD_FEATURE_NAMES,
    features: fraudFeatureVector,
    // The topology's own prediction rows, so building and serialising them costs what it does there.
    output: (f, probability) => toPrediction(f, probability, 'fraud-lr@1', '1', 'model', ''),
  }),
  share(),
);
const channel = new ChannelState('fraud', { replayItems: 10_000, replayBytes: 8 << 20, snapshotKeys: 10_000, snapshotBytes: 8 << 20 });
// A close scores in chunks (burstRows), each its own batch: a close is done when every card's prediction is framed.
let firstScoredAt = 0;
let framedAt = 0;
let framedRows = 0;
let closeDone: (() => void) | null = null;
predictions.subscribe((batch) => {
  if (batch.records.length === 0) return;
  if (framedRows === 0) firstScoredAt = performance.now();
  const entries = batch.records.map((record) => channel.append(itemJson(record.value), record.key));
  for (let from = 0; from < entries.length; from += BATCH_FRAME_ITEMS) channel.frameOf(entries, from, Math.min(entries.length, from + BATCH_FRAME_ITEMS));
  framedRows += entries.length;
  framedAt = performance.now();
  if (framedRows >= opts.cards) closeDone?.();
});

const cardIds = Array.from({ length: opts.cards }, (_, i) => `card-${String(i).padStart(6, '0')}`);
const start = Date.UTC(2026, 0, 1);
const rows: Array<{ features: number; firstFramed: number; framed: number; gc: number }> = [];
let closedThrough = start;
for (let minute = 0; minute < opts.minutes; minute++) {
  let records: StreamRecord<Payment>[] = [];
  const perMinute = opts.perMinute * opts.cards;
  for (let i = 0; i < perMinute; i++) {
    const c = i % opts.cards;
    const ts = start + minute * 60_000 + Math.floor((i / perMinute) * 60_000);
    // A string per record, as a decoder makes them (keys are not shared instances).
    const payment = { paymentId: `p${minute}-${i}`, cardId: `${cardIds[c]} `.trimEnd(), merchantId: `m${c % 500}`, amount: 5 + ((c * 7 + i) % 300), currency: 'EUR', country: 'NL', ts } as Payment;
    records.push({ value: payment, key: '', eventTime: ts, topic: 'payments', partition: 0, offset: String(i) });
    if (records.length < BATCH && i < perMinute - 1) continue;
    const watermark = ts - 5_000;
    const closes = watermark - GRACE_MS >= closedThrough + 60_000;
    if (!closes) {
      input.next({ records, watermark, acks: [untrackedToken(records.length)], side: newSideOutputs() });
    } else {
      closedThrough = Math.floor((watermark - GRACE_MS) / 60_000) * 60_000;
      framedRows = 0;
      const framed = new Promise<void>((resolve) => (closeDone = resolve));
      const gcBefore = gcMs;
      const sent = performance.now();
      input.next({ records, watermark, acks: [untrackedToken(records.length)], side: newSideOutputs() });
      await framed;
      rows.push({ features: featuresAt - sent, firstFramed: firstScoredAt - sent, framed: framedAt - sent, gc: gcMs - gcBefore });
    }
    records = [];
  }
}
input.complete();

const measured = rows.slice(2);
const stat = (pick: (row: (typeof rows)[number]) => number) => {
  const values = measured.map(pick).sort((a, b) => a - b);
  return `${values[Math.floor(values.length / 2)]!.toFixed(1)} / ${values.at(-1)!.toFixed(1)}`;
};
console.log(`close path, ${opts.cards} cards (${measured.length} closes after 2 warm-up), ms from the closing batch, median / max:`);
console.log(`  features (windows + join) ${stat((r) => r.features)}; first chunk scored ${stat((r) => r.firstFramed)}; every prediction framed ${stat((r) => r.framed)}; GC pauses in between ${stat((r) => r.gc)}`);
console.log(`  RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, node ${process.version}`);
process.exit(0);
