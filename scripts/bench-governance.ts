/**
 * What data protection costs per row: card-fraud's payments and predictions masked as the
 * governed sinks mask them, batch by batch (1,000 rows), with the subject keys in memory.
 *   node --import tsx scripts/bench-governance.ts
 * Cases: the raw payments table (hashes and 2-digit amounts), online state of predictions
 * (hashes and tokens), a channel's admin view (every tagged field a token), and a copy of each
 * record without masking for reference. Best of 5 rounds of ~0.4 s each, after a warm-up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StreamRecord } from '../src/core/batch.ts';
import { FileKeyStore } from '../src/governance/file-key-store.ts';
import { Keyring } from '../src/governance/keyring.ts';
import { recordMasker, type RowMasker } from '../src/governance/row-maskers.ts';
import { ValueMasker } from '../src/governance/value-masker.ts';
import { CardPaymentModel } from '../src/sources/generator/card-payments.ts';
import type { MaskPlan } from '../src/governance/sink-plans.ts';

const BATCH = 1_000;
const ROUNDS = 5;
const ROUND_MS = 400;

const dir = mkdtempSync(path.join(tmpdir(), 'bench-governance-'));
const keyring = await Keyring.open(new FileKeyStore(dir));
const generator = new CardPaymentModel({ seed: 3, cards: 5_000 });
const payments: StreamRecord<Record<string, unknown>>[] = Array.from({ length: BATCH }, (_, i) => {
  const payment = generator.next(Date.UTC(2026, 0, 1) + i * 100).payment as unknown as Record<string, unknown>;
  return { value: payment, key: String(payment.cardId), eventTime: Number(payment.ts), topic: 'payments', partition: 0, offset: String(i) };
});
const predictions = payments.map((r) => ({ ...r, value: { cardId: r.value.cardId, windowEnd: 60_000, probability: 0.0123, count1m: 2, sum1m: r.value.amount, max1m: r.value.amount, count5m: 3, sum5m: r.value.amount, max5m: r.value.amount } }));

const hash = { kind: 'hash' } as const;
const token = { kind: 'token' } as const;
const plan = (fields: Array<[string, MaskPlan['fields'][number]['policy']]>): MaskPlan => ({ destination: 'clickhouse', key: hash, subject: 'cardId', fields: fields.map(([name, policy]) => ({ name, tag: 'direct', policy })) });
const cases: Array<{ name: string; rows: StreamRecord<Record<string, unknown>>[]; masker: RowMasker<StreamRecord<unknown>> | 'copy' }> = [
  { name: 'copy only (reference)', rows: payments, masker: 'copy' },
  { name: 'payments table: 4 hashes, amount to 2 digits', rows: payments, masker: recordMasker(new ValueMasker(plan([['paymentId', hash], ['cardId', hash], ['merchantId', hash], ['country', hash], ['amount', { kind: 'significant', digits: 2 }]]), keyring)) },
  { name: 'prediction state: card hash, 5 tokens', rows: predictions, masker: recordMasker(new ValueMasker(plan([['cardId', hash], ['probability', token], ['sum1m', token], ['max1m', token], ['sum5m', token], ['max5m', token]]), keyring)) },
  { name: 'admin frames: 6 tokens', rows: predictions, masker: recordMasker(new ValueMasker(plan([['cardId', token], ['probability', token], ['sum1m', token], ['max1m', token], ['sum5m', token], ['max5m', token]]), keyring)) },
];

const subjects = new Set<string>();
for (const { rows, masker } of cases) if (masker !== 'copy') masker.subjects(rows, subjects);
const keys = await keyring.loadKeys(subjects);

for (const { name, rows, masker } of cases) {
  const run = () => (masker === 'copy' ? rows.map((r) => ({ ...r, value: { ...r.value } })) : masker.mask(rows, keys));
  for (let i = 0; i < 20; i++) run();
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    let batches = 0;
    const started = performance.now();
    while (performance.now() - started < ROUND_MS) {
      run();
      batches++;
    }
    best = Math.min(best, (performance.now() - started) / (batches * BATCH));
  }
  console.log(`${name.padEnd(48)} ${(best * 1000).toFixed(2).padStart(7)} us/row  ${Math.round(1000 / best).toLocaleString('en').padStart(10)} rows/s`);
}
rmSync(dir, { recursive: true, force: true });
