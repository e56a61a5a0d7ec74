import { fileURLToPath } from 'node:url';
import { defineTopology } from '../src/topology/define-topology.ts';
import { kafkaTopic } from '../src/sources/kafka/kafka-source.ts';
import { generatorSource } from '../src/sources/generator/generator-source.ts';
import { CardPaymentModel, type Payment } from '../src/sources/generator/card-payments.ts';
import { score } from '../src/operators/score.ts';
import type { ScoreSource } from '../src/scoring/fallback.ts';
import { clickhouseTable } from '../src/sinks/clickhouse/table-sink.ts';
import { clickhouseDeadLetters } from '../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseLateRecords } from '../src/sinks/clickhouse/late-table.ts';
import { countDistinct, countDistinctIf, maxOf, sumOf, withRollups, type RollupDefinition } from '../src/sinks/clickhouse/rollup-sink.ts';
import { kafkaDeadLetters } from '../src/sinks/kafka/dead-letter-topic.ts';
import { websocketChannel } from '../src/sinks/websocket-channel.ts';
import { onlineState } from '../src/sinks/online-state.ts';
import { cardFeatures, FRAUD_FEATURE_NAMES, fraudFeatureVector, type CardFeatures } from './card-fraud-features.ts';

/** The model's output row (schemas/fraud_prediction.avsc). */
export interface FraudPrediction extends Omit<CardFeatures, 'windowStart'> {
  probability: number;
  model: string;
  /** 'model': scored by `model` just now; 'fallback': the model was unavailable, see FALLBACK_PROBABILITY. */
  source: ScoreSource;
}

/**
 * The probability of a fallback prediction (model 'prior', source 'fallback'), served while the
 * model is unavailable: the fraud rate of the model's training windows (models/fraud-lr.json:
 * 3493 fraudulent of 527974), which is what the model would say knowing nothing about the window.
 * Filter with `source = 'model'` where only real scores will do.
 */
export const FALLBACK_PROBABILITY = 0.0066;

/** Explicit fields: an object spread per prediction costs ~0.9 us on Node 20 (bench). */
function toPrediction<S extends ScoreSource>(f: CardFeatures, probability: number, model: string, source: S): FraudPrediction & { source: S } {
  return { cardId: f.cardId, windowEnd: f.windowEnd, count1m: f.count1m, sum1m: f.sum1m, max1m: f.max1m, count5m: f.count5m, sum5m: f.sum5m, max5m: f.max5m, probability, model, source };
}

const labels = new WeakMap<object, string>();
function modelLabel(model: { name: string; version: string }): string {
  let label = labels.get(model);
  if (label === undefined) labels.set(model, (label = `${model.name}@${model.version}`));
  return label;
}

/** A prediction at or above this probability counts as flagged in the fraud_rate_per_minute rollup. */
export const FLAGGED_PROBABILITY = 0.5;

/**
 * Rollups for analysts (README, "For analysts"), kept up to date by ClickHouse on every insert.
 * Counts are distinct counts of what identifies a row (card and window, payment id), so the
 * copies a replay writes are counted once; the amount sum counts them again.
 */
export function cardFraudRollups(prefix = ''): { predictions: RollupDefinition[]; payments: RollupDefinition[] } {
  const window = ['cardId', 'windowEnd'];
  return {
    predictions: [
      {
        name: `${prefix}fraud_rate_per_minute`,
        groupBy: { minute: 'toStartOfMinute(toDateTime(intDiv(windowEnd, 1000)))' },
        measures: {
          predictions: countDistinct(...window),
          flagged: countDistinctIf(`probability >= ${FLAGGED_PROBABILITY}`, ...window),
          fallbacks: countDistinctIf("source = 'fallback'", ...window),
          max_probability: maxOf('probability'),
        },
        derived: { fraud_rate: 'flagged / predictions' },
        partitionBy: 'toYYYYMM(minute)',
      },
    ],
    payments: [
      {
        name: `${prefix}merchant_stats_per_hour`,
        groupBy: { hour: 'toStartOfHour(toDateTime(intDiv(ts, 1000)))', merchantId: 'merchantId' },
        measures: {
          payments: countDistinct('paymentId'),
          cards: countDistinct('cardId'),
          amount_total: sumOf('amount'),
          amount_max: maxOf('amount'),
        },
        partitionBy: 'toYYYYMM(hour)',
      },
    ],
  };
}

export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../models/fraud-lr.onnx', import.meta.url));

export interface CardFraudOptions {
  topic?: string;
  /** Prefix for every ClickHouse table (tests use a random one). */
  tablePrefix?: string;
  modelPath?: string;
  /** WebSocket channel for predictions. */
  channel?: string;
  /** Also send dead letters to this Kafka topic (raw bytes + provenance headers). */
  deadLetterTopic?: string;
  /** Demo generator: events per second of event time, and seed. */
  demoRate?: number;
  demoSeed?: number;
}

/**
 * Card-payment fraud: per card, windowed spend features over 1 and 5 minutes, scored by a
 * logistic regression in ONNX; raw payments, features, predictions, late records and dead letters
 * go to ClickHouse, latest features and scores to the state store, predictions to channel `fraud`.
 */
export function createCardFraudTopology(options: CardFraudOptions = {}) {
  const tables = options.tablePrefix ?? '';
  const seed = options.demoSeed ?? 7;
  const rollups = cardFraudRollups(tables);
  return defineTopology({
    name: 'card-fraud',
    source: kafkaTopic<Payment>({ topic: options.topic ?? 'payments', format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s' }),
    demoSource: generatorSource<Payment>({
      name: 'card-payments',
      events: () => {
        const model = new CardPaymentModel({ seed });
        return { next: (time) => model.next(time).payment };
      },
      eventTime: (p) => p.ts,
      eventsPerSecond: options.demoRate ?? 200,
      // Start 20 minutes behind and replay at 20x: the first predictions within seconds, a window
      // closing every 3 s for about a minute, then once a minute in real time.
      startBehind: '20m',
      speedup: 20,
      outOfOrderness: '5s',
    }),
    pipeline: (payments) => {
      const features = cardFeatures(payments);
      const predictions = features.pipe(
        score(options.modelPath ?? DEFAULT_MODEL_PATH, {
          name: 'fraud-score',
          featureNames: FRAUD_FEATURE_NAMES,
          features: fraudFeatureVector,
          output: (f, probability, model): FraudPrediction => toPrediction(f, probability, modelLabel(model), 'model'),
          // After 5 failed (after retries) or over-1s micro-batches in a row, stop calling the model
          // for 10 s (doubling while probes fail); meanwhile predictions are the prior, marked 'fallback'.
          breaker: { failureThreshold: 5, latencyBudget: '1s', coolDown: '10s' },
          fallback: (f) => toPrediction(f, FALLBACK_PROBABILITY, 'prior', 'fallback'),
        }),
      );
      return { features, predictions };
    },
    sinks: {
      // Replays after a crash add no rows once merged: one payment per Kafka record, one row per
      // card and window (the highest revision); late records and dead letters are keyed likewise.
      raw: [withRollups(clickhouseTable<Payment>(`${tables}payments`, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' }), rollups.payments)],
      features: [
        clickhouseTable<CardFeatures>(`${tables}card_features`, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision' }),
        onlineState<CardFeatures>({ prefix: 'features:card:', ttl: '1h' }),
      ],
      predictions: [
        withRollups(clickhouseTable<FraudPrediction>(`${tables}fraud_predictions`, { schema: 'fraud_prediction.avsc', orderBy: ['cardId', 'windowEnd'], timeField: 'windowEnd', versionColumn: 'revision' }), rollups.predictions),
        onlineState<FraudPrediction>({ prefix: 'prediction:card:', ttl: '1h' }),
        websocketChannel<FraudPrediction>(options.channel ?? 'fraud'),
      ],
    },
    late: clickhouseLateRecords(`${tables}late_records`),
    deadLetter: [clickhouseDeadLetters(`${tables}dead_letters`), ...(options.deadLetterTopic ? [kafkaDeadLetters(options.deadLetterTopic)] : [])],
  });
}

export default createCardFraudTopology({
  topic: process.env.PAYMENTS_TOPIC,
  deadLetterTopic: process.env.KAFKA_BROKERS ? process.env.PAYMENTS_DLQ_TOPIC : undefined,
  demoRate: Number(process.env.DEMO_RATE) || undefined,
});
