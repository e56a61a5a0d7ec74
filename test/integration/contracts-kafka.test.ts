import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { seededRandom } from '../../src/scoring/synthetic-data.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { inCents, referenceCardFeatures, toFeatures } from '../helpers/fraud-reference.ts';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';

const PARTITIONS = 2;
const VALID = 10_000;
const START = Date.UTC(2026, 10, 5, 10, 0, 0);
const HOUR = 3_600_000;

/**
 * Payments that each break exactly one rule of the payment contract, written out by hand: how
 * many of each (all different, so a count landing under the wrong rule shows), and how to break
 * a valid payment that way. `now` is the producer's clock: the engine's processing time trails it.
 */
const BREAKERS: Record<string, { count: number; make: (p: Payment, i: number, now: number) => Payment }> = {
  'ids-present': { count: 3, make: (p, i) => (i % 2 === 0 ? { ...p, merchantId: '' } : { ...p, cardId: '' }) },
  'card-id-format': { count: 5, make: (p, i) => ({ ...p, cardId: i % 2 === 0 ? `${p.cardId} DROP TABLE` : `card-${'7'.repeat(70)}` }) },
  'amount-range': { count: 7, make: (p, i) => ({ ...p, amount: [-1, 1_000_000.01, Number.NaN, -0.01, 5e9, Number.NEGATIVE_INFINITY, -250][i]! }) },
  'currency-known': { count: 4, make: (p, i) => ({ ...p, currency: ['XBT', 'eur', '', 'EURO'][i]! }) },
  'country-code': { count: 6, make: (p, i) => ({ ...p, country: ['de', 'DEU', '', 'D', '12', 'U S'][i]! }) },
  'currency-matches-country': { count: 2, make: (p) => ({ ...p, country: 'JP', currency: 'EUR' }) },
  'ts-not-future': { count: 8, make: (p, i, now) => ({ ...p, ts: now + 2 * HOUR + i * 60_000 }) },
};

test('payments that break the contract on real Kafka and ClickHouse: exactly those are dead-lettered under their rule, every valid one is processed, and the per-rule counters equal what was injected', { timeout: 240_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const ch = clickhouse();
  const topic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS, name: 'payments_contract' });
  const engine = await Engine.start(createCardFraudTopology({ topic: topic.topic, tablePrefix: prefix }), { config, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger });
  t.after(async () => {
    await engine.stop();
    await topic.close();
    await ch.close();
  });

  const generator = new CardPaymentModel({ seed: 23, cards: 300, lateShare: 0, fraudRate: 0.01 });
  const valid: Payment[] = Array.from({ length: VALID }, (_, i) => generator.next(START + i * 60).payment);
  // Each breaking payment copies a valid one (new id) and goes in at a random place.
  const random = seededRandom(17);
  const now = Date.now();
  const stream = [...valid];
  const injected = new Map<string, string>(); // paymentId -> rule
  for (const [rule, { count, make }] of Object.entries(BREAKERS)) {
    for (let i = 0; i < count; i++) {
      const at = Math.floor(random() * stream.length);
      const bad = make({ ...valid[Math.floor(random() * VALID)]!, paymentId: `bad-${rule}-${i}` }, i, now);
      stream.splice(at, 0, bad);
      injected.set(bad.paymentId, rule);
    }
  }
  await topic.send(stream);
  await topic.sendWatermarkEvents(valid, 10 * 60_000);

  // Every valid payment (and the two watermark events) lands in the raw table; no breaking one does.
  await waitFor('valid payments stored', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}payments FINAL`))[0]!.n), (n) => n >= VALID + PARTITIONS, 120_000);
  const stored = await queryRows<{ paymentId: string }>(ch, `SELECT paymentId FROM ${prefix}payments FINAL`);
  assert.equal(stored.length, VALID + PARTITIONS);
  const storedIds = new Set(stored.map((row) => row.paymentId));
  assert.ok(valid.every((p) => storedIds.has(p.paymentId)), 'every valid payment is stored');
  assert.ok(![...injected.keys()].some((id) => storedIds.has(id)), 'no breaking payment is stored');

  // The dead letters hold exactly the breaking payments, each under its rule, with the offending value.
  const total = injected.size;
  await waitFor('dead letters stored', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}dead_letters FINAL`))[0]!.n), (n) => n >= total, 60_000);
  const letters = await queryRows<{ step: string; error: string; raw_base64: string; topic: string; offset: string }>(ch, `SELECT step, error, raw_base64, topic, offset FROM ${prefix}dead_letters FINAL`);
  const dead = new Map(letters.map((row) => [(JSON.parse(Buffer.from(row.raw_base64, 'base64').toString('utf8')) as Payment).paymentId, row]));
  assert.equal(letters.length, total);
  assert.deepEqual(new Map([...dead].map(([id, row]) => [id, row.step])), new Map([...injected].map(([id, rule]) => [id, `contract:${rule}`])));
  for (const row of letters) {
    assert.equal(row.topic, topic.topic);
    assert.match(row.offset, /^\d+$/);
    assert.ok(row.error.startsWith(`contract payment, rule ${row.step.slice('contract:'.length)} (`), row.error);
    assert.ok(row.error.length < 200, `short error text: ${row.error}`);
  }
  assert.match(dead.get('bad-amount-range-1')!.error, /: amount=1000000\.01$/);
  assert.match(dead.get('bad-currency-known-0')!.error, /: currency="XBT"$/);
  assert.match(dead.get('bad-card-id-format-1')!.error, new RegExp(`: cardId="card-${'7'.repeat(43)}…"$`));

  // The per-rule counters, and the dead-letter counter per step, equal the injected counts.
  const counters = async (metric: 'contractViolations' | 'deadLetters', label: 'rule' | 'step') =>
    Object.fromEntries((await engine.metrics[metric].get()).values.map(({ labels, value }) => [String((labels as Record<string, unknown>)[label]), value]));
  const expected = Object.fromEntries(Object.entries(BREAKERS).map(([rule, { count }]) => [rule, count]));
  assert.deepEqual(await counters('contractViolations', 'rule'), expected);
  assert.deepEqual(await counters('deadLetters', 'step'), Object.fromEntries(Object.entries(expected).map(([rule, count]) => [`contract:${rule}`, count])));

  // The windows saw only valid payments: the features equal an independent computation over them.
  const windows = referenceCardFeatures(valid);
  await waitFor('every window of the valid payments', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}card_features FINAL WHERE cardId NOT LIKE 'watermark-%'`))[0]!.n), (n) => n >= windows.length, 120_000);
  const features = (await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}card_features FINAL WHERE cardId NOT LIKE 'watermark-%' ORDER BY cardId, windowEnd`)).map(toFeatures);
  assert.deepEqual(features.map(inCents), windows.map(inCents));
  assert.equal(Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}late_records FINAL`))[0]!.n), 0, 'no record was late: the payments from the future never moved the watermark');
  t.diagnostic(`${VALID} valid payments processed, ${total} breaking payments dead-lettered under ${Object.keys(BREAKERS).length} rules, ${windows.length} windows`);
});

test('with a quarantine table the breaking payments land there (rule, offending value, the record) and not in the dead letters', { timeout: 180_000 }, async (t) => {
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const ch = clickhouse();
  const topic = await createPaymentsTopic(config.kafkaBrokers!, { partitions: 1, name: 'payments_quarantine' });
  const engine = await Engine.start(createCardFraudTopology({ topic: topic.topic, tablePrefix: prefix, quarantineTable: 'payments_quarantine' }), { config, logger: silentLogger });
  t.after(async () => {
    await engine.stop();
    await topic.close();
    await ch.close();
  });
  const generator = new CardPaymentModel({ seed: 29, cards: 50, lateShare: 0 });
  const valid: Payment[] = Array.from({ length: 1_000 }, (_, i) => generator.next(START + i * 100).payment);
  const bad: Payment[] = [
    { ...valid[100]!, paymentId: 'q-amount', amount: -3.5 },
    { ...valid[500]!, paymentId: 'q-currency', currency: 'ZZZ' },
    { ...valid[900]!, paymentId: 'q-future', ts: Date.now() + 3 * HOUR },
  ];
  await topic.send([...valid.slice(0, 300), bad[0]!, ...valid.slice(300, 700), bad[1]!, bad[2]!, ...valid.slice(700)]);
  await waitFor('quarantined payments', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}payments_quarantine FINAL`))[0]!.n), (n) => n >= bad.length, 60_000);
  await waitFor('valid payments stored', async () => Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}payments FINAL`))[0]!.n), (n) => n >= valid.length, 60_000);
  const rows = await queryRows<{ contract: string; rule: string; offending: string; record: string; topic: string; partition: number; offset: string }>(
    ch,
    `SELECT contract, rule, offending, record, topic, partition, offset FROM ${prefix}payments_quarantine FINAL ORDER BY toUInt64(offset)`,
  );
  assert.deepEqual(rows.map((row) => [row.contract, row.rule, row.offending, (JSON.parse(row.record) as Payment).paymentId, row.topic, Number(row.partition), Number(row.offset)]), [
    ['payment', 'amount-range', 'amount=-3.5', 'q-amount', topic.topic, 0, 300],
    ['payment', 'currency-known', 'currency="ZZZ"', 'q-currency', topic.topic, 0, 701],
    ['payment', 'ts-not-future', `ts=${bad[2]!.ts}`, 'q-future', topic.topic, 0, 702],
  ]);
  assert.equal(Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}payments FINAL`))[0]!.n), valid.length);
  assert.equal(Number((await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${prefix}dead_letters FINAL`))[0]!.n), 0);
  const violations = Object.fromEntries((await engine.metrics.contractViolations.get()).values.map(({ labels, value }) => [String(labels.rule), value]));
  assert.deepEqual([violations['amount-range'], violations['currency-known'], violations['ts-not-future'], violations['ids-present']], [1, 1, 1, 0]);
});
