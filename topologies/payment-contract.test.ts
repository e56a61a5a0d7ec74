import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology, kafkaTopic, clickhouseQuarantine, type SinkSpec } from 'tributary';
import { runOnArray, CardPaymentModel, type Payment } from 'tributary/testing';
import { CARD_FEATURES } from './card-fraud-features.ts';
import { PAYMENT_CONTRACT } from './payment-contract.ts';

const START = Date.UTC(2026, 2, 2, 8, 0, 0);
const HOUR = 3_600_000;

function topology(options: { contract: boolean; quarantine?: boolean }) {
  return defineTopology({
    name: 'payments-contract-test',
    source: kafkaTopic<Payment>({ topic: 'payments', format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s' }),
    pipeline: (payments) => ({ features: CARD_FEATURES.compute(payments) }),
    sinks: { features: [] as SinkSpec<never>[] },
    contract: options.contract ? PAYMENT_CONTRACT : undefined,
    quarantine: options.quarantine ? clickhouseQuarantine('q') : undefined,
  });
}

/** Valid payments over 20 minutes and, spread among them, payments that each break one named rule. */
function payments(): { valid: Payment[]; all: Payment[]; broken: Array<{ paymentId: string; rule: string }>; processingTime: number } {
  const model = new CardPaymentModel({ seed: 5, cards: 40, lateShare: 0 });
  const valid = Array.from({ length: 3_000 }, (_, i) => model.next(START + i * 400).payment);
  const processingTime = START + 3_000 * 400;
  const base = (i: number): Payment => ({ ...valid[i]!, paymentId: `bad-${i}` });
  const breaking: Array<[number, string, Payment]> = [
    [10, 'ids-present', { ...base(10), merchantId: '' }],
    [200, 'card-id-format', { ...base(200), cardId: 'card 00001' }],
    [201, 'card-id-format', { ...base(201), cardId: `card-${'9'.repeat(80)}` }],
    [400, 'amount-range', { ...base(400), amount: -0.01 }],
    [401, 'amount-range', { ...base(401), amount: 1_000_000.5 }],
    [402, 'amount-range', { ...base(402), amount: Number.NaN }],
    [900, 'currency-known', { ...base(900), currency: 'BTC' }],
    [1_500, 'country-code', { ...base(1_500), country: 'Deutschland' }],
    [2_000, 'currency-matches-country', { ...base(2_000), country: 'US', currency: 'EUR' }],
    // An hour and a bit ahead of processing time: it would move the watermark and make what follows late.
    [2_100, 'ts-not-future', { ...base(2_100), ts: processingTime + HOUR + 1 }],
    [2_101, 'ts-not-future', { ...base(2_101), ts: processingTime + 30 * 24 * HOUR }],
  ];
  const all = [...valid];
  for (const [at, , payment] of [...breaking].reverse()) all.splice(at, 0, payment);
  return { valid, all, broken: breaking.map(([, rule, p]) => ({ paymentId: p.paymentId, rule })), processingTime };
}

test('payments that break the contract are dead-lettered under their rule and the features are those of the valid payments alone', async () => {
  const { valid, all, broken, processingTime } = payments();
  const checked = await runOnArray(topology({ contract: true }), all, { processingTime, batchSize: 500 });
  const letters = checked.deadLetters.map((letter) => ({ paymentId: (JSON.parse(new TextDecoder().decode(letter.raw!)) as Payment).paymentId, rule: letter.step.replace(/^contract:/, '') }));
  assert.deepEqual(letters, broken);
  assert.ok(checked.deadLetters.every((letter) => letter.step.startsWith('contract:') && letter.error.startsWith(`contract payment, rule ${letter.step.slice(9)} (`)));
  assert.deepEqual(checked.late, []);
  const reference = await runOnArray(topology({ contract: false }), valid, { batchSize: 500 });
  assert.ok(reference.outputs.features!.length > 300, `${reference.outputs.features!.length} feature rows`);
  assert.deepEqual(checked.outputs.features, reference.outputs.features);
});

test('without the contract the payment from the future closes every window early: the rest arrive late', async () => {
  const { all } = payments();
  const unchecked = await runOnArray(topology({ contract: false }), all, { batchSize: 500 });
  assert.ok(unchecked.late.length > 1_000, `${unchecked.late.length} late records`);
});

test('with a quarantine the violations go there, with rule and offending value, and not to the dead letters', async () => {
  const { all, broken, processingTime } = payments();
  const run = await runOnArray(topology({ contract: true, quarantine: true }), all, { processingTime, batchSize: 500 });
  assert.deepEqual(run.deadLetters, []);
  assert.deepEqual(run.quarantined.map((v) => ({ paymentId: (v.record.value as Payment).paymentId, rule: v.rule })), broken);
  assert.deepEqual(run.quarantined.filter((v) => v.rule === 'amount-range').map((v) => v.offending), ['amount=-0.01', 'amount=1000000.5', 'amount=NaN']);
});
