/**
 * Bytes of window state per active key for the card-fraud feature definition (issue 3, item 6).
 * Feeds N cards with a few payments each inside one minute, keeps the watermark low so every
 * window stays open, and measures the heap with the pipeline still subscribed.
 *
 * Also reports the serialized size of the same state in a checkpoint (durable window state).
 *
 *   node --expose-gc --import tsx scripts/measure-state.ts [--keys 200000] [--events-per-key 3] [--durable]
 */
import { Subject } from 'rxjs';
import { Command } from 'commander';
import { untrackedToken } from '../src/core/ack.ts';
import type { Batch, StreamRecord } from '../src/core/batch.ts';
import type { Payment } from '../src/sources/generator/card-payments.ts';
import { StateRegistry } from '../src/core/step-state.ts';
import { cardFeatures } from '../topologies/card-fraud-features.ts';

const { keys, eventsPerKey, durable } = new Command()
  .option('--keys <n>', 'distinct cards', (v) => Number(v), 200_000)
  .option('--events-per-key <n>', 'payments per card', (v) => Number(v), 3)
  .option('--durable', 'durable window state (checkpointed: windows hold no ack tokens)', false)
  .parse()
  .opts<{ keys: number; eventsPerKey: number; durable: boolean }>();
const registry = new StateRegistry({ durable });

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const start = Date.UTC(2026, 0, 1, 12, 0, 0);
const batches: Array<Batch<Payment>> = [];
for (let k = 0; k < keys; k += 5_000) {
  const records: StreamRecord<Payment>[] = [];
  for (let i = k; i < Math.min(k + 5_000, keys); i++) {
    for (let e = 0; e < eventsPerKey; e++) {
      const ts = start + ((i * 7 + e * 13) % 50_000);
      records.push({ value: { paymentId: `p${i}-${e}`, cardId: `card-${i}`, merchantId: 'm', amount: 10 + e, currency: 'EUR', country: 'NL', ts }, key: '', eventTime: ts, topic: 't', partition: 0, offset: String(i) });
    }
  }
  batches.push({ records, watermark: start - 60_000, acks: [untrackedToken()], side: { late: [], deadLetters: [], state: registry } });
}

const input = new Subject<Batch<Payment>>();
let emitted = 0;
const subscription = cardFeatures(input).subscribe((batch) => (emitted += batch.records.length));
const before = heap();
for (const batch of batches) input.next(batch);
const after = heap();
if (emitted !== 0) throw new Error(`expected every window to stay open, ${emitted} rows were emitted`);
// Every payment object is retained by the test itself (batches), so the delta is window state.
const perKey = (after - before) / keys;
console.log(`${keys} cards x ${eventsPerKey} payments, all windows open (1m tumbling + 5m/1m hopping, count/sum/max), ${durable ? 'durable' : 'in-memory'} window state`);
console.log(`window state: ${((after - before) / 1024 / 1024).toFixed(1)} MiB, ${perKey.toFixed(0)} bytes per card (both windows, all aggregates)`);
const started = performance.now();
const snapshot = registry.snapshot();
const snapshotMs = performance.now() - started;
const checkpointBytes = [...snapshot.values()].reduce((total, bytes) => total + bytes.length, 0);
console.log(`checkpoint: ${(checkpointBytes / 1024 / 1024).toFixed(1)} MiB, ${(checkpointBytes / keys).toFixed(0)} bytes per card, serialized in ${snapshotMs.toFixed(0)} ms`);
subscription.unsubscribe();
