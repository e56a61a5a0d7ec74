import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CardPaymentModel, type CardPaymentOptions, type Payment } from '../../../src/sources/generator/card-payments.ts';
import { SeededRandom, ZipfSampler } from '../../../src/sources/generator/random.ts';

const START = 1_700_000_000_000;
const GAP_MS = 10; // 100 events per second of nominal time

function generate(options: CardPaymentOptions, count: number): Array<{ payment: Payment; fraud: boolean; now: number }> {
  const model = new CardPaymentModel(options);
  const events: Array<{ payment: Payment; fraud: boolean; now: number }> = [];
  for (let i = 0; i < count; i++) {
    const now = START + i * GAP_MS;
    events.push({ ...model.next(now), now });
  }
  return events;
}

// One generated run shared by the statistical tests (deterministic for its seed).
const run = generate({ seed: 42 }, 20_000);

const CURRENCY: Record<string, string> = { US: 'USD', GB: 'GBP', DE: 'EUR', FR: 'EUR', NL: 'EUR', ES: 'EUR', IT: 'EUR', CA: 'CAD', BR: 'BRL', JP: 'JPY' };

test('SeededRandom is reproducible and uniform in [0, 1)', () => {
  const a = new SeededRandom(123);
  const b = new SeededRandom(123);
  const c = new SeededRandom(124);
  const xs = Array.from({ length: 1_000 }, () => a.next());
  assert.deepEqual(Array.from({ length: 1_000 }, () => b.next()), xs);
  assert.notDeepEqual(Array.from({ length: 1_000 }, () => c.next()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  const r = new SeededRandom(9);
  for (let i = 0; i < 1_000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    const x = r.between(-2, 3);
    assert.ok(x >= -2 && x < 3);
    assert.ok(r.exponential(400) >= 0);
    assert.ok(r.logNormal(1, 1) > 0);
    assert.ok(['a', 'b'].includes(r.pick(['a', 'b'])));
  }
});

test('ZipfSampler returns ranks in range, skewed towards the first ones', () => {
  const sampler = new ZipfSampler(100, 1.1);
  const random = new SeededRandom(5);
  const counts = new Array<number>(100).fill(0);
  for (let i = 0; i < 20_000; i++) counts[sampler.sample(random)]!++;
  assert.equal(counts.reduce((s, n) => s + n, 0), 20_000, 'every sample is a rank in 0..99');
  assert.ok(counts[0]! > counts[9]! && counts[9]! > counts[99]!, counts.slice(0, 10).join(','));
  assert.ok(counts[0]! > 20_000 / 100 * 10, 'rank 0 far above a uniform share');
});

test('the same seed gives identical sequences', () => {
  const again = generate({ seed: 42 }, 20_000);
  assert.deepEqual(again, run);
  const a = generate({ seed: 9, cards: 50, fraudRate: 0.05 }, 2_000);
  const b = generate({ seed: 9, cards: 50, fraudRate: 0.05 }, 2_000);
  assert.deepEqual(a, b);
});

test('different seeds give different sequences', () => {
  const strip = (events: typeof run) => events.map(({ payment: { paymentId: _id, ...rest }, fraud }) => ({ ...rest, fraud }));
  const a = strip(generate({ seed: 1 }, 500));
  const b = strip(generate({ seed: 2 }, 500));
  assert.notDeepEqual(a, b);
  const sameCard = a.filter((e, i) => e.cardId === b[i]!.cardId).length;
  assert.ok(sameCard < 250, `only chance agreement expected, got ${sameCard}/500`);
});

test('payments are well formed', () => {
  run.forEach(({ payment }, i) => {
    assert.equal(payment.paymentId, `p-42-${i}`);
    assert.match(payment.cardId, /^card-\d{5}$/);
    assert.ok(Number(payment.cardId.slice(5)) < 5_000);
    assert.match(payment.merchantId, /^m-\d+$/);
    assert.ok(Number(payment.merchantId.slice(2)) < 500);
    assert.ok(payment.amount > 0);
    assert.equal(Math.round(payment.amount * 100) / 100, payment.amount, 'amounts are in cents');
    assert.equal(payment.currency, CURRENCY[payment.country], `${payment.country} pays in ${payment.currency}`);
    assert.ok(Number.isInteger(payment.ts));
  });
});

test('card traffic is skewed: a few hot cards, a long tail', () => {
  const perCard = new Map<string, number>();
  for (const { payment } of run) perCard.set(payment.cardId, (perCard.get(payment.cardId) ?? 0) + 1);
  const hottest = Math.max(...perCard.values());
  assert.ok(hottest > run.length * 0.01, `hottest card has ${hottest} payments`);
  assert.ok(perCard.size > 1_000, `${perCard.size} distinct cards`);
});

test('fraud bursts: several fraudulent payments per compromised card, with larger amounts', () => {
  const fraud = run.filter((e) => e.fraud);
  const normal = run.filter((e) => !e.fraud);
  assert.ok(fraud.length > 100, `${fraud.length} fraudulent payments`);
  assert.ok(fraud.length < run.length * 0.1);
  const fraudCards = new Set(fraud.map((e) => e.payment.cardId));
  assert.ok(fraud.length / fraudCards.size >= 4, `${fraud.length} payments on ${fraudCards.size} cards: bursts, not single events`);
  const mean = (events: typeof run) => events.reduce((s, e) => s + e.payment.amount, 0) / events.length;
  assert.ok(mean(fraud) > 3 * mean(normal), `fraud mean ${mean(fraud)} vs normal mean ${mean(normal)}`);
  const median = (events: typeof run) => events.map((e) => e.payment.amount).sort((x, y) => x - y)[Math.floor(events.length / 2)]!;
  assert.ok(median(fraud) > 3 * median(normal));
});

test('no fraud without a fraud rate', () => {
  assert.equal(generate({ seed: 3, fraudRate: 0 }, 5_000).filter((e) => e.fraud).length, 0);
});

test('a sizeable share of events is out of order, and none is in the future', () => {
  let maxTs = -Infinity;
  let outOfOrder = 0;
  for (const { payment, now } of run) {
    if (payment.ts < maxTs) outOfOrder++;
    maxTs = Math.max(maxTs, payment.ts);
    assert.ok(payment.ts <= now, 'event time never exceeds the nominal time');
  }
  assert.ok(outOfOrder > run.length * 0.2, `${outOfOrder} of ${run.length} out of order`);
});

test('with lateShare 0 no event is more than a few seconds behind its nominal time', () => {
  for (const seed of [1, 42, 1234]) {
    const behind = generate({ seed, lateShare: 0 }, 20_000).map((e) => e.now - e.payment.ts);
    const worst = Math.max(...behind);
    assert.ok(worst < 8_000, `seed ${seed}: ${worst} ms behind`);
    assert.ok(Math.min(...behind) >= 0);
  }
});

test('with a late share some events arrive far behind, up to lateMaxMs', () => {
  const events = generate({ seed: 42, lateShare: 0.05, lateMaxMs: 30_000 }, 5_000);
  const behind = events.map((e) => e.now - e.payment.ts);
  const farBehind = behind.filter((ms) => ms > 10_000).length;
  assert.ok(farBehind > 50, `${farBehind} events more than 10 s behind`);
  assert.ok(Math.max(...behind) < 30_000 + 8_000);
});
