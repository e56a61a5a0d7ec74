import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { cents, FEATURE_VERSION, type CardFeatures } from '../../topologies/card-fraud-features.ts';
import { referenceKeyHash } from './reference-hash.ts';

/**
 * The card-fraud features computed independently of the engine: plain loops over the events,
 * summing in the given order (the per-card order of a Kafka partition). `staggerMs`: each card's
 * minutes start at its phase, (FNV-1a of the card id modulo 60,000/staggerMs) x staggerMs.
 */
export function referenceCardFeatures(payments: readonly Payment[], staggerMs = 0): CardFeatures[] {
  const oneMinute = new Map<string, { count: number; sum: number; max: number }>();
  const fiveMinutes = new Map<string, { cardId: string; end: number; count: number; sum: number; max: number }>();
  for (const p of payments) {
    const phase = staggerMs === 0 ? 0 : (referenceKeyHash(p.cardId) % (60_000 / staggerMs)) * staggerMs;
    const end1 = phase + Math.floor((p.ts - phase) / 60_000) * 60_000 + 60_000;
    const one = oneMinute.get(`${p.cardId}|${end1}`) ?? { count: 0, sum: 0, max: -Infinity };
    one.count++;
    one.sum += p.amount;
    one.max = Math.max(one.max, p.amount);
    oneMinute.set(`${p.cardId}|${end1}`, one);
    for (let k = 0; k < 5; k++) {
      const end5 = end1 + k * 60_000;
      const five = fiveMinutes.get(`${p.cardId}|${end5}`) ?? { cardId: p.cardId, end: end5, count: 0, sum: 0, max: -Infinity };
      five.count++;
      five.sum += p.amount;
      five.max = Math.max(five.max, p.amount);
      fiveMinutes.set(`${p.cardId}|${end5}`, five);
    }
  }
  const rows: CardFeatures[] = [];
  for (const five of fiveMinutes.values()) {
    const one = oneMinute.get(`${five.cardId}|${five.end}`);
    rows.push({
      cardId: five.cardId,
      windowStart: five.end - 300_000,
      windowEnd: five.end,
      count1m: one?.count ?? 0,
      sum1m: cents(one?.sum ?? 0),
      max1m: one?.max ?? 0,
      count5m: five.count,
      sum5m: cents(five.sum),
      max5m: five.max,
      featureVersion: staggerMs === 0 ? FEATURE_VERSION : `${FEATURE_VERSION}-stagger-${staggerMs}ms`,
    });
  }
  return rows.sort(byCardAndEnd);
}

export function byCardAndEnd(a: { cardId: string; windowEnd: number }, b: { cardId: string; windowEnd: number }): number {
  return a.cardId < b.cardId ? -1 : a.cardId > b.cardId ? 1 : a.windowEnd - b.windowEnd;
}

/** Money in whole cents: ClickHouse 18.16 parses JSON floats with up to one ulp of error. */
export function inCents(f: CardFeatures) {
  return { ...f, sum1m: Math.round(f.sum1m * 100), max1m: Math.round(f.max1m * 100), sum5m: Math.round(f.sum5m * 100), max5m: Math.round(f.max5m * 100) };
}

/** A card_features row as ClickHouse returns it (numbers as strings) → CardFeatures. */
export function toFeatures(row: Record<string, unknown>): CardFeatures {
  return {
    cardId: String(row.cardId),
    windowStart: Number(row.windowStart),
    windowEnd: Number(row.windowEnd),
    count1m: Number(row.count1m),
    sum1m: Number(row.sum1m),
    max1m: Number(row.max1m),
    count5m: Number(row.count5m),
    sum5m: Number(row.sum5m),
    max5m: Number(row.max5m),
    featureVersion: String(row.featureVersion),
  };
}

/**
 * The fraud model's inputs for a feature row, written out here (not imported from the topology),
 * so tests that check scores do not reuse the code they check: counts as they are, amounts as
 * log(1 + x), in the order of the model's featureNames.
 */
export function referenceFraudVector(f: CardFeatures): number[] {
  return [f.count1m, Math.log(1 + f.sum1m), Math.log(1 + f.max1m), f.count5m, Math.log(1 + f.sum5m), Math.log(1 + f.max5m)];
}

/** The canary bucket of a key (independent of src/scoring/model-serving.ts): 32-bit FNV-1a of the UTF-16 code units, modulo 10,000. */
export function referenceCanaryBucket(key: string): number {
  return referenceKeyHash(key) % 10_000;
}
