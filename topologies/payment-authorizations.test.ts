import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupTable } from 'tributary';
import { runOnArray } from 'tributary/testing';
import { createPaymentAuthorizationsTopology, type Merchant, type PaymentAuthorization, type PaymentFlowEvent, type RiskTier } from './payment-authorizations.ts';

const T = 1_700_000_000_000;
const HOUR = 3_600_000;
const payment = (paymentId: string, s: number, cardId: string, amount: number, merchantId = 'm1'): PaymentFlowEvent => ({ type: 'payment', paymentId, ts: T + s * 1000, cardId, merchantId, amount });
const authorization = (paymentId: string, s: number, authorizationCode: string): PaymentFlowEvent => ({ type: 'authorization', paymentId, ts: T + s * 1000, authorizationCode });
const merchant = (merchantId: string, riskTier: RiskTier): Merchant => ({ merchantId, name: `Merchant ${merchantId}`, riskTier });

/** An in-memory merchants table on a fixed wall clock (the TTL runs on wall-clock time, not event time). */
function merchantsAt(now: number, rows: Array<[Merchant, number?]>) {
  const table = lookupTable<Merchant>({ name: 'merchants', ttl: '24h', clock: () => now });
  for (const [m, updatedAt] of rows) table.apply(m.merchantId, m, updatedAt);
  return table;
}

function row(p: { paymentId: string; s: number; cardId: string; amount: number; merchantId: string }, code: string | null, latencyMs: number | null, tier: PaymentAuthorization['merchantRiskTier']): PaymentAuthorization {
  return { paymentId: p.paymentId, ts: T + p.s * 1000, cardId: p.cardId, merchantId: p.merchantId, amount: p.amount, authorized: code !== null, authorizationCode: code, latencyMs, merchantRiskTier: tier };
}

test('payments left-joined with authorizations within 2 minutes, enriched with the merchant tier: authorized, unauthorized and late', async () => {
  const events = [
    payment('p1', 0, 'c1', 10),
    payment('p2', 1, 'c2', 20, 'm2'), // never authorized
    authorization('p1', 30, 'A1'),
    payment('p3', 40, 'c1', 30),
    authorization('p3', 160, 'A3'), // exactly 2 minutes later: matches; watermark 155 s closes p2
    payment('p4', 170, 'c3', 40, 'm9'), // a merchant the table does not know
    payment('p5', 200, 'c1', 50),
    authorization('p4', 290.001, 'A4'), // 2 minutes and 1 ms later: no match; watermark 285.001 s
    authorization('p5', 210, 'A5'), // 210 s + 10 s grace <= 285.001 s: late
  ];
  const merchants = merchantsAt(T, [[merchant('m1', 'low')], [merchant('m2', 'high')]]);
  const { outputs, late, deadLetters } = await runOnArray(createPaymentAuthorizationsTopology({ merchants }), events, { batchSize: 1 });
  assert.deepEqual(outputs.authorizations, [
    row({ paymentId: 'p1', s: 0, cardId: 'c1', amount: 10, merchantId: 'm1' }, 'A1', 30_000, 'low'),
    row({ paymentId: 'p3', s: 40, cardId: 'c1', amount: 30, merchantId: 'm1' }, 'A3', 120_000, 'low'),
    row({ paymentId: 'p2', s: 1, cardId: 'c2', amount: 20, merchantId: 'm2' }, null, null, 'high'),
    row({ paymentId: 'p4', s: 170, cardId: 'c3', amount: 40, merchantId: 'm9' }, null, null, 'unknown'), // closed by the end of the input
    row({ paymentId: 'p5', s: 200, cardId: 'c1', amount: 50, merchantId: 'm1' }, null, null, 'low'),
  ]);
  assert.deepEqual(
    late.map((l) => [l.step, l.key, l.eventTime, l.watermark, l.offset]),
    [['payment-authorization', 'p5', T + 210_000, T + 285_001, '8']],
  );
  assert.deepEqual(deadLetters, []);
});

test('the same authorization arriving in one batch with its payment is not late and joins', async () => {
  const events = [payment('p5', 200, 'c1', 50), payment('p6', 400, 'c2', 5, 'm2'), authorization('p5', 210, 'A5')];
  const merchants = merchantsAt(T, [[merchant('m1', 'medium')], [merchant('m2', 'low')]]);
  const { outputs, late } = await runOnArray(createPaymentAuthorizationsTopology({ merchants }), events, { batchSize: 3 });
  assert.deepEqual(outputs.authorizations, [
    row({ paymentId: 'p5', s: 200, cardId: 'c1', amount: 50, merchantId: 'm1' }, 'A5', 10_000, 'medium'),
    row({ paymentId: 'p6', s: 400, cardId: 'c2', amount: 5, merchantId: 'm2' }, null, null, 'low'),
  ]);
  assert.deepEqual(late, []);
});

test('merchant tiers: the latest update wins, a deleted or expired merchant is unknown', async () => {
  const now = T + 100 * HOUR;
  const merchants = merchantsAt(now, [
    [merchant('m1', 'low'), now - 2 * HOUR],
    [merchant('m1', 'high'), now - HOUR], // the update replaces the first row
    [merchant('m2', 'medium'), now - 23 * HOUR], // 23 h old: still within the 24 h TTL
    [merchant('m3', 'high'), now - 24 * HOUR], // exactly 24 h old: expired
    [merchant('m4', 'low')],
  ]);
  merchants.delete('m4'); // a tombstone
  const events = ['m1', 'm2', 'm3', 'm4'].map((m, i) => payment(`p${i}`, i, `c${i}`, i + 1, m));
  const { outputs, deadLetters } = await runOnArray(createPaymentAuthorizationsTopology({ merchants }), events);
  assert.deepEqual(
    (outputs.authorizations as PaymentAuthorization[]).map((r) => [r.merchantId, r.merchantRiskTier]),
    [['m1', 'high'], ['m2', 'medium'], ['m3', 'unknown'], ['m4', 'unknown']],
  );
  assert.equal(merchants.has('m3'), false, 'the expired entry was evicted when looked up');
  assert.deepEqual(deadLetters, []);
});

test('the default topology declares its Kafka-fed merchants table, which runOnArray can fill in memory', async () => {
  const topology = createPaymentAuthorizationsTopology();
  const [merchants] = topology.tables!;
  assert.equal(merchants!.name, 'merchants');
  assert.ok(merchants!.source, 'fed from the compacted merchants topic when the engine runs');
  merchants!.apply('m1', merchant('m1', 'high'));
  const { outputs } = await runOnArray(topology, [payment('p1', 0, 'c1', 10)]);
  assert.deepEqual((outputs.authorizations as PaymentAuthorization[]).map((r) => r.merchantRiskTier), ['high']);
});
