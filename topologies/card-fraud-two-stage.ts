import { defineTopology, kafkaTopic, kafkaTopicSink, clickhouseTable, map, inClear, type Duration, type TopologyGovernance } from 'tributary';
import type { Payment } from 'tributary/testing';
import { CARD_FEATURES, type CardFeatures } from './card-fraud-features.ts';

/** A payment with what stage 1 adds: its amount in cents and the merchant's partition of origin. */
export interface EnrichedPayment extends Payment {
  amountCents: number;
  /** Provenance: 'topic:partition@offset' of the payment stage 1 read. */
  origin: string;
}

export interface TwoStageOptions {
  /** Stage 1's input: payments keyed by merchant (any key). */
  paymentsTopic: string;
  /** Between the stages: enriched payments keyed by card, so each card's payments meet in one partition. */
  enrichedTopic: string;
  tablePrefix?: string;
  /** Exactly-once between the stages (needs durable window state in stage 1's engine); default at-least-once. */
  exactlyOnce?: boolean;
  /**
   * Stage 2's out-of-orderness. Each enriched partition interleaves payments from every stage-1
   * partition in the order stage 1 processed them, so event time is only as ordered as stage 1's
   * partitions are in step with each other: allow for how far they can drift (default 30m).
   */
  outOfOrderness?: Duration;
  /** Data protection of both stages (default inClear(): synthetic data; see CARD_FRAUD_GOVERNANCE). */
  governance?: TopologyGovernance;
}

/**
 * Stage 1 of the two-stage card-fraud example: reads payments in any partitioning, enriches them
 * and writes them to `enrichedTopic` keyed by card (the repartition), JSON values.
 */
export function createEnrichStage(options: TwoStageOptions) {
  return defineTopology({
    name: 'card-fraud-enrich',
    source: kafkaTopic<Payment>({ topic: options.paymentsTopic, format: 'avro-confluent', eventTime: (p) => p.ts, outOfOrderness: '5s' }),
    pipeline: (payments) => ({
      enriched: payments.pipe(map((p, record): EnrichedPayment => ({ ...p, amountCents: Math.round(p.amount * 100), origin: `${record.topic}:${record.partition}@${record.offset}` }), { name: 'enrich' })),
    }),
    sinks: { enriched: [kafkaTopicSink<EnrichedPayment>(options.enrichedTopic, { format: 'json', key: (p) => p.cardId, delivery: options.exactlyOnce ? 'exactly-once' : 'at-least-once' })] },
    governance: options.governance ?? inClear(),
  });
}

/** Stage 2: reads the enriched payments (each card in one partition) and computes the card features. */
export function createFeatureStage(options: TwoStageOptions) {
  const tables = options.tablePrefix ?? '';
  return defineTopology({
    name: 'card-fraud-features',
    source: kafkaTopic<EnrichedPayment>({ topic: options.enrichedTopic, format: 'json', eventTime: (p) => p.ts, outOfOrderness: options.outOfOrderness ?? '30m' }),
    pipeline: (payments) => ({ features: CARD_FEATURES.compute(payments) }),
    sinks: {
      features: [clickhouseTable<CardFeatures>(`${tables}card_features`, { schema: 'card_features.avsc', orderBy: ['cardId', 'windowEnd', 'featureVersion'], timeField: 'windowEnd', versionColumn: 'revision' })],
    },
    governance: options.governance ?? inClear(),
  });
}
