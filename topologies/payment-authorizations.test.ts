import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOnArray } from '../src/topology/run-on-array.ts';
import { createPaymentAuthorizationsTopology, type PaymentAuthorization, type PaymentFlowEvent } from './payment-authorizations.ts';

const T = 1_700_000_000_000;
const payment = (paymentId: string, s: number, cardId: string, amount: number): PaymentFlowEvent => ({ type: 'payment', paymentId, ts: T + s * 1000, cardId, amount });
const authorization = (paymentId: string, s: number, authorizationCode: string): PaymentFlowEvent => ({ type: 'authorization', paymentId, ts: T + s * 1000, authorizationCode });

test('payments left-joined with authorizations within 2 minutes: authorized, unauthorized and late', async () => {
  const events = [
    payment('p1', 0, 'c1', 10),
    payment('p2', 1, 'c2', 20), // never authorized
    authorization('p1', 30, 'A1'),
    payment('p3', 40, 'c1', 30),
    authorization('p3', 160, 'A3'), // exactly 2 minutes later: matches; watermark 155 s closes p2
    payment('p4', 170, 'c3', 40),
    payment('p5', 200, 'c1', 50),
    authorization('p4', 290.001, 'A4'), // 2 minutes and 1 ms later: no match; watermark 285.001 s
    authorization('p5', 210, 'A5'), // 210 s + 10 s grace <= 285.001 s: late
  ];
  const { outputs, late, deadLetters } = await runOnArray(createPaymentAuthorizationsTopology(), events, { batchSize: 1 });
  const row = (paymentId: string, cardId: string, amount: number, code: string | null, latencyMs: number | null): PaymentAuthorization => ({
    paymentId,
    cardId,
    amount,
    authorized: code !== null,
    authorizationCode: code,
    latencyMs,
  });
  assert.deepEqual(outputs.authorizations, [
    row('p1', 'c1', 10, 'A1', 30_000),
    row('p3', 'c1', 30, 'A3', 120_000),
    row('p2', 'c2', 20, null, null),
    row('p4', 'c3', 40, null, null), // closed by the end of the input
    row('p5', 'c1', 50, null, null),
  ]);
  assert.deepEqual(
    late.map((l) => [l.step, l.key, l.eventTime, l.watermark, l.offset]),
    [['payment-authorization', 'p5', T + 210_000, T + 285_001, '8']],
  );
  assert.deepEqual(deadLetters, []);
});

test('the same authorization arriving in one batch with its payment is not late and joins', async () => {
  const events = [payment('p5', 200, 'c1', 50), payment('p6', 400, 'c2', 5), authorization('p5', 210, 'A5')];
  const { outputs, late } = await runOnArray(createPaymentAuthorizationsTopology(), events, { batchSize: 3 });
  assert.deepEqual(outputs.authorizations, [
    { paymentId: 'p5', cardId: 'c1', amount: 50, authorized: true, authorizationCode: 'A5', latencyMs: 10_000 },
    { paymentId: 'p6', cardId: 'c2', amount: 5, authorized: false, authorizationCode: null, latencyMs: null },
  ]);
  assert.deepEqual(late, []);
});
