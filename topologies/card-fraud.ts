import { fileURLToPath } from 'node:url';
import {
  defineTopology, kafkaTopic, generatorSource, score, servedModel, batchPredictionTable,
  clickhouseTable, clickhouseDeadLetters, clickhouseLateRecords, clickhouseQuarantine, kafkaDeadLetters, kafkaTopicSink, websocketChannel, onlineState,
  withRollups, countDistinct, countDistinctIf, maxOf, sumOf, inClear,
  type TopologyGovernance, type DestinationPolicies, type ScoreSource, type RollupDefinition, type DriftOptions, type OffsetGapPolicy, type ServedModelOptions, type Challenger, type LookupTable, type CircuitBreakerOptions, type Duration, type LifecycleSpec,
  type FallbackReasonKind, type FeatureSet,
} from 'tributary';
import { CardPaymentModel, type Payment } from 'tributary/testing';
import { CARD_FEATURES, cardFeatureSet, type CardFeatures } from './card-fraud-features.ts';
import { PAYMENT_CONTRACT, breakPaymentContract } from './payment-contract.ts';

/** The model's output row (schemas/fraud_prediction.avsc). */
export interface FraudPrediction extends Omit<CardFeatures, 'windowStart'> {
  probability: number;
  /** 'name@version' of the model that produced `probability` ('prior' for the fallback). */
  model: string;
  /** Lineage: the registry version ('' for the prior); featureVersion comes with the features. */
  modelVersion: string;
  /**
   * 'model': scored by `model` just now; 'batch': the model was unavailable and this is the
   * card's latest batch prediction (tributary score-batch); 'fallback': unavailable and no batch
   * prediction either, see FALLBACK_PROBABILITY.
   */
  source: ScoreSource;
  /**
   * Why the model did not score the window ('' when it did): 'circuit-open' or 'model-error' (the
   * model was unavailable), 'stale-inputs' (the window was older than the freshness SLO).
   */
  fallbackReason: '' | FallbackReasonKind;
  /** While a canary or shadow runs, the other model's score of the same window; else '' and null. */
  challengerModel: string;
  challengerProbability: number | null;
}

/**
 * The probability of a fallback prediction (model 'prior', source 'fallback'), served while the
 * model is unavailable: the fraud rate of the model's training windows (models/fraud-lr.json:
 * 3493 fraudulent of 527974), which is what the model would say knowing nothing about the window.
 * Filter with `source = 'model'` where only real scores will do.
 */
export const FALLBACK_PROBABILITY = 0.0066;

/** Explicit fields: an object spread per prediction costs ~0.9 us on Node 20 (bench). */
export function toPrediction<S extends ScoreSource>(f: CardFeatures, probability: number, model: string, modelVersion: string, source: S, fallbackReason: FraudPrediction['fallbackReason'], challenger?: Challenger): FraudPrediction & { source: S } {
  return {
    cardId: f.cardId, windowEnd: f.windowEnd, count1m: f.count1m, sum1m: f.sum1m, max1m: f.max1m, count5m: f.count5m, sum5m: f.sum5m, max5m: f.max5m, featureVersion: f.featureVersion,
    probability, model, modelVersion, source, fallbackReason,
    challengerModel: challenger ? modelLabel(challenger.model) : '',
    challengerProbability: challenger ? challenger.probability : null,
  };
}

const labels = new WeakMap<object, string>();
function modelLabel(model: { name: string; version: string }): string {
  let label = labels.get(model);
  if (label === undefined) labels.set(model, (label = `${model.name}@${model.version}`));
  return label;
}

/** The model's name in the registry. */
export const FRAUD_MODEL = 'fraud-lr';

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
          fallbacks: countDistinctIf("source != 'model'", ...window),
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

/** Where the card-fraud model lifecycle's batch jobs find its data (tables under `prefix`). */
export function cardFraudLifecycle(prefix = '', featureSet: FeatureSet<Payment, CardFeatures> = CARD_FEATURES): LifecycleSpec {
  return {
    featureSet,
    model: FRAUD_MODEL,
    registryTable: `${prefix}model_registry`,
    baselinesTable: `${prefix}model_baselines`,
    outcomesTable: `${prefix}model_outcomes`,
    eventsTable: `${prefix}payments`,
    eventsTimeColumn: 'ts',
    featuresTable: `${prefix}card_features`,
    featuresTimeColumn: 'windowEnd',
    entityColumn: 'cardId',
    predictionsTable: `${prefix}fraud_predictions`,
    // A window is fraudulent when the card had a charged-back payment in its last minute.
    labels: { table: `${prefix}chargebacks`, entityColumn: 'cardId', timeColumn: 'paymentTs', window: '1m' },
    batchPredictionsTable: `${prefix}batch_predictions`,
  };
}

/** Pseudonyms wherever the value is written; admins' WebSocket frames carry tokens they can detokenize. */
const PSEUDONYMIZED: DestinationPolicies = { clickhouse: 'hash', state: 'hash', websocket: 'hash', websocketAdmin: 'token', late: 'hash', quarantine: 'hash', deadLetters: 'encrypt', kafka: 'encrypt' };

/**
 * The card-fraud data protection (README "Data protection"): card ids (direct), payment and
 * merchant ids and countries (quasi) leave the engine only as keyed hashes, so joins, windows and
 * rollups still work; amounts, the features computed from them and scores (sensitive) reach
 * ClickHouse and analysts' frames cut to 2 significant digits, and online state, late records
 * and admins' frames as tokens under the card's own key, which `tributary erase` destroys. Dead
 * letters keep their bytes encrypted. The tags themselves are in schemas/*.avsc.
 */
export const CARD_FRAUD_GOVERNANCE: TopologyGovernance = {
  policies: {
    direct: PSEUDONYMIZED,
    quasi: PSEUDONYMIZED,
    sensitive: { clickhouse: { significant: 2 }, state: 'token', websocket: { significant: 2 }, websocketAdmin: 'token', late: 'token', quarantine: 'token', deadLetters: 'encrypt', kafka: 'encrypt' },
  },
  // The window features are computed from amounts: they carry its tag (card_features.avsc and
  // fraud_prediction.avsc must say so, or the engine refuses to start).
  derivedFrom: { sum1m: 'amount', max1m: 'amount', sum5m: 'amount', max5m: 'amount' },
};

export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../models/fraud-lr.onnx', import.meta.url));

export interface CardFraudOptions {
  topic?: string;
  /** Prefix for every ClickHouse table (tests use a random one). */
  tablePrefix?: string;
  /** The model file made live when the registry has none yet (default models/fraud-lr.onnx). */
  modelPath?: string;
  /** Loads a registered model file (tests wrap it to inject scoring faults). */
  loadModel?: ServedModelOptions['load'];
  /** The scoring circuit breaker (default: 5 failures, 1 s budget, 10 s cool-down). */
  breaker?: CircuitBreakerOptions;
  /** How often the batch predictions are re-read from ClickHouse (default 30 s). */
  batchRefresh?: Duration;
  /** WebSocket channel for predictions. */
  channel?: string;
  /**
   * Spread the cards' windows over the minute in steps of this (e.g. '1s'): a minute's closes
   * come a few cards at a time instead of in one burst of every card (README "Close-path
   * latency"). Its own feature version: a model trained on aligned features is not served on
   * these. Default: aligned to the minute.
   */
  staggerWindows?: Duration;
  /** Prefix of the online state keys (features:..., prediction:card:...) in the state store; tests use a random one. */
  statePrefix?: string;
  /** Also send dead letters to this Kafka topic (raw bytes + provenance headers). */
  deadLetterTopic?: string;
  /** Drift monitoring of the served model (default: 1-minute buckets into `<prefix>model_drift`); false: off. */
  drift?: DriftOptions | false;
  /** What to do when payments were deleted from Kafka before they were read (default: 'fail' with durable window state). */
  onOffsetGap?: OffsetGapPolicy;
  /** How long a silent payments partition holds the watermark back (default 30s; false: for ever). */
  idleTimeout?: Duration | false;
  /** Demo generator: events per second of event time, and seed. */
  demoRate?: number;
  demoSeed?: number;
  /**
   * Data protection. Default inClear(): every field in clear, for tests and demos on synthetic
   * data; the default export (what `tributary run` runs) uses CARD_FRAUD_GOVERNANCE.
   */
  governance?: TopologyGovernance;
  /** Demo generator: one payment in this many breaks the payment contract on purpose (default 2000; 0: none). */
  demoInvalidEvery?: number;
  /**
   * Freshness SLOs: how old (processing time minus event time) a window's features and
   * prediction may be when emitted. `features` also gates scoring: a window older than it is
   * served its card's batch prediction (fallbackReason 'stale-inputs'), not scored. Default:
   * none (the default export sets 2 minutes).
   */
  freshness?: { features: Duration; predictions?: Duration };
  /** Records that break the payment contract go to this ClickHouse table instead of the dead letters. */
  quarantineTable?: string;
  /**
   * Also produce every prediction to this Kafka topic (Avro, Confluent wire format, keyed by
   * card; default: off). `exactlyOnce` commits them in Kafka transactions with the source
   * offsets (needs durable window state); otherwise at-least-once.
   */
  predictionsTopic?: { topic: string; exactlyOnce?: boolean };
  /** A Confluent-API Schema Registry for the payments' and predictions' schema ids (default: schemas/registry.json). */
  schemaRegistryUrl?: string;
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
  const featureSet = options.staggerWindows === undefined ? CARD_FEATURES : cardFeatureSet({ stagger: options.staggerWindows });
  // The registry's live fraud-lr (hot-swapped on promotion, with canary or shadow candidates).
  // Drift of its inputs and score against the version's training baseline, per minute of event time.
  const model = servedModel({
    model: FRAUD_MODEL, featureSet, registryTable: `${tables}model_registry`, bootstrap: options.modelPath ?? DEFAULT_MODEL_PATH, load: options.loadModel,
    baselinesTable: `${tables}model_baselines`, outcomesTable: `${tables}model_outcomes`, drift: options.drift ?? { table: `${tables}model_drift`, bucket: '1m' },
  });
  // The latest batch prediction per card (tributary score-batch), served while the model is unavailable.
  const batchPredictions = batchPredictionTable({ name: 'batch-predictions', table: `${tables}batch_predictions`, refresh: options.batchRefresh });
  return defineTopology({
    name: 'card-fraud',
    source: kafkaTopic<Payment>({ topic: options.topic ?? 'payments', format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s', onOffsetGap: options.onOffsetGap, idleTimeout: options.idleTimeout }),
    demoSource: generatorSource<Payment>({
      name: 'card-payments',
      events: () => {
        const model = new CardPaymentModel({ seed });
        // A few payments break the contract on purpose, so the demo shows what happens to them.
        const invalidEvery = options.demoInvalidEvery ?? 2_000;
        let n = 0;
        return { next: (time) => (invalidEvery > 0 && ++n % invalidEvery === 0 ? breakPaymentContract(model.next(time).payment, n / invalidEvery) : model.next(time).payment) };
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
      const features = featureSet.compute(payments);
      const predictions = features.pipe(
        score(model, {
          name: 'fraud-score',
          featureNames: featureSet.featureNames,
          features: featureSet.vector,
          output: (f, probability, scoredBy, challenger): FraudPrediction => toPrediction(f, probability, modelLabel(scoredBy), scoredBy.version, 'model', '', challenger),
          // Rows come only when windows close, a close's rows in one batch: nothing to wait for
          // (with staggered windows a close is ~1/60 of the cards, which a 10 ms wait would delay).
          maxDelayMs: 0,
          // After 5 failed (after retries) or over-1s micro-batches in a row, stop calling the model
          // for 10 s (doubling while probes fail); meanwhile each card gets its latest batch
          // prediction ('batch'), or the prior ('fallback') when it has none.
          breaker: options.breaker ?? { failureThreshold: 5, latencyBudget: '1s', coolDown: '10s' },
          // A window older than the features' freshness SLO is not scored: a stale online score
          // would look fresh; its card's batch prediction says what it is.
          maxInputAge: options.freshness?.features,
          fallback: (f, reason) => {
            const batch = batchPredictions.get(f.cardId);
            return batch ? toPrediction(f, batch.probability, batch.model, batch.modelVersion, 'batch', reason.kind) : toPrediction(f, FALLBACK_PROBABILITY, 'prior', '', 'fallback', reason.kind);
          },
        }),
      );
      return { features, predictions };
    },
    sinks: {
      // Replays after a crash add no rows once merged: one payment per Kafka record, one row per
      // card and window (the highest revision); late records and dead letters are keyed likewise.
      raw: [withRollups(clickhouseTable<Payment>(`${tables}payments`, { schema: 'payment.avsc', orderBy: ['cardId', 'ts'], timeField: 'ts', dedupe: 'provenance' }), rollups.payments)],
      features: [
        clickhouseTable<CardFeatures>(`${tables}card_features`, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd', 'featureVersion'], timeField: 'windowEnd', versionColumn: 'revision', origin: true }),
        // Versioned keys (features:card-features:v1:<card>): a new feature version never mixes with the old.
        onlineState<CardFeatures>({ prefix: `${options.statePrefix ?? ''}${featureSet.onlinePrefix}`, ttl: '1h' }),
      ],
      predictions: [
        withRollups(clickhouseTable<FraudPrediction>(`${tables}fraud_predictions`, { schema: 'fraud_prediction.avsc', orderBy: ['cardId', 'windowEnd', 'featureVersion'], timeField: 'windowEnd', versionColumn: 'revision', origin: true }), rollups.predictions),
        onlineState<FraudPrediction>({ prefix: `${options.statePrefix ?? ''}prediction:card:`, ttl: '1h' }),
        websocketChannel<FraudPrediction>(options.channel ?? 'fraud'),
        ...(options.predictionsTopic ? [kafkaTopicSink<FraudPrediction>(options.predictionsTopic.topic, { schema: 'fraud_prediction.avsc', key: (p) => p.cardId, delivery: options.predictionsTopic.exactlyOnce ? 'exactly-once' : 'at-least-once' })] : []),
      ],
    },
    // Every payment is checked before the pipeline: one that breaks a rule never reaches a window.
    contract: PAYMENT_CONTRACT,
    quarantine: options.quarantineTable ? clickhouseQuarantine(`${tables}${options.quarantineTable}`) : undefined,
    freshness: options.freshness && { features: options.freshness.features, predictions: options.freshness.predictions ?? options.freshness.features },
    models: [model],
    tables: [batchPredictions as LookupTable<unknown>],
    lifecycle: cardFraudLifecycle(tables, featureSet),
    late: clickhouseLateRecords(`${tables}late_records`),
    deadLetter: [clickhouseDeadLetters(`${tables}dead_letters`), ...(options.deadLetterTopic ? [kafkaDeadLetters(options.deadLetterTopic)] : [])],
    governance: options.governance ?? inClear(),
    schemaRegistry: options.schemaRegistryUrl ? { url: options.schemaRegistryUrl } : undefined,
  });
}

export default createCardFraudTopology({
  topic: process.env.PAYMENTS_TOPIC,
  deadLetterTopic: process.env.KAFKA_BROKERS ? process.env.PAYMENTS_DLQ_TOPIC : undefined,
  schemaRegistryUrl: process.env.KAFKA_BROKERS ? process.env.SCHEMA_REGISTRY_URL : undefined,
  // PREDICTIONS_TOPIC (off by default); PREDICTIONS_EXACTLY_ONCE=true for transactions.
  predictionsTopic: process.env.KAFKA_BROKERS && process.env.PREDICTIONS_TOPIC ? { topic: process.env.PREDICTIONS_TOPIC, exactlyOnce: process.env.PREDICTIONS_EXACTLY_ONCE === 'true' } : undefined,
  demoRate: Number(process.env.DEMO_RATE) || undefined,
  governance: CARD_FRAUD_GOVERNANCE,
  // A window's features are emitted 15 s (out-of-orderness + grace) to about a minute after its end.
  freshness: { features: '2m', predictions: '2m' },
});
