import { share, type Observable } from 'rxjs';
import { type Batch, type Duration, type FeatureSet, keyBy, aggregate, count, max, sum, hopping, joinWindows, tumbling, defineFeatureSet, toMillis } from 'tributary';
import type { Payment } from 'tributary/testing';

/** Per-card features at one window end (schemas/card_features.avsc). */
export interface CardFeatures {
  cardId: string;
  /** Start of the 5-minute window. */
  windowStart: number;
  windowEnd: number;
  count1m: number;
  sum1m: number;
  max1m: number;
  count5m: number;
  sum5m: number;
  max5m: number;
  /** CARD_FEATURES.version: which definition computed the row. */
  featureVersion: string;
}

export const WINDOW_GRACE = '10s';

/** Bump when the features below change meaning: online keys, rows and models are keyed by it. */
export const FEATURE_VERSION = 'v1';

/** Money sums are kept to the cent, so they do not depend on the order of float additions. */
export function cents(amount: number): number {
  return Math.round(amount * 100) / 100;
}

const perCard = { count: count<Payment>(), sum: sum<Payment>((p) => p.amount), max: max<Payment>((p) => p.amount) };

export interface CardFeatureOptions {
  /**
   * Spread the cards' windows over the minute in steps of this (the windows' `stagger`): each
   * card's 1- and 5-minute windows end at its own phase of the minute, so about 1/60 of the
   * cards close each second (with '1s') instead of all of them on the minute. A different
   * feature version (`v1-stagger-1000ms`): models are trained and served on one or the other.
   * Default: aligned to the minute.
   */
  stagger?: Duration;
}

/** The feature version rows carry: FEATURE_VERSION, with the stagger when there is one. */
export function cardFeatureVersion(options: CardFeatureOptions = {}): string {
  const staggerMs = options.stagger === undefined ? 0 : toMillis(options.stagger, 'cardFeatures.stagger');
  return staggerMs === 0 ? FEATURE_VERSION : `${FEATURE_VERSION}-stagger-${staggerMs}ms`;
}

/**
 * The feature definition, used online, in the demo, in training and in tests: per card, count,
 * sum and max amount over the last minute (tumbling) and the last five minutes (hopping by one
 * minute), joined on the window end they share.
 */
export function cardFeatures(payments: Observable<Batch<Payment>>, options: CardFeatureOptions = {}): Observable<Batch<CardFeatures>> {
  const featureVersion = cardFeatureVersion(options);
  // Both windows with the same stagger: a card's 1- and 5-minute windows end together, as the join needs.
  const windowOptions = { grace: WINDOW_GRACE, stagger: options.stagger };
  const byCard = payments.pipe(keyBy((p) => p.cardId), share());
  const lastMinute = byCard.pipe(tumbling('1m', windowOptions), aggregate(perCard, { name: 'card-1m' }));
  const lastFiveMinutes = byCard.pipe(hopping('5m', '1m', windowOptions), aggregate(perCard, { name: 'card-5m' }));
  return joinWindows(lastFiveMinutes, lastMinute, (five, one) => ({
    cardId: five.key,
    windowStart: five.windowStart,
    windowEnd: five.windowEnd,
    count1m: one?.count ?? 0,
    sum1m: cents(one?.sum ?? 0),
    max1m: one?.max ?? 0,
    count5m: five.count,
    sum5m: cents(five.sum),
    max5m: five.max,
    featureVersion,
  })).pipe(share());
}

/** The model's input, in order; the names are stored in the ONNX file and checked at load. */
export const FRAUD_FEATURE_NAMES = ['count1m', 'log_sum1m', 'log_max1m', 'count5m', 'log_sum5m', 'log_max5m'] as const;

export function fraudFeatureVector(f: CardFeatures): number[] {
  return [f.count1m, Math.log1p(f.sum1m), Math.log1p(f.max1m), f.count5m, Math.log1p(f.sum5m), Math.log1p(f.max5m)];
}

/**
 * The card features as a named, versioned feature set: the online path (Kafka), the backfill
 * (events read back from ClickHouse), training and batch scoring all use this one definition.
 */
export function cardFeatureSet(options: CardFeatureOptions = {}): FeatureSet<Payment, CardFeatures> {
  return defineFeatureSet<Payment, CardFeatures>({
    name: 'card-features',
    version: cardFeatureVersion(options),
    entity: 'card',
    compute: (payments) => cardFeatures(payments, options),
    featureNames: FRAUD_FEATURE_NAMES,
    vector: fraudFeatureVector,
    entityId: (f) => f.cardId,
    // The 5-minute hopping window is the longest.
    lookback: '5m',
  });
}

/** The card features with windows aligned to the minute (FEATURE_VERSION). */
export const CARD_FEATURES = cardFeatureSet();
