import { defineTopology, kafkaTopic, clickhouseTable, clickhouseDeadLetters, kafkaDeadLetters, inClear, type TopologyGovernance } from 'tributary';
import type { Chargeback } from 'tributary/testing';

export interface ChargebacksOptions {
  topic?: string;
  /** Prefix for every ClickHouse table (tests use a random one). */
  tablePrefix?: string;
  /** Also send dead letters to this Kafka topic. */
  deadLetterTopic?: string;
  /** Data protection; default inClear() (synthetic data), the default export uses CHARGEBACKS_GOVERNANCE. */
  governance?: TopologyGovernance;
}

/**
 * Card ids (direct), chargeback and payment ids (quasi) as keyed hashes under the same key as
 * card-fraud's, so training still joins the labels to the protected card_features; dead letters
 * encrypted.
 */
export const CHARGEBACKS_GOVERNANCE: TopologyGovernance = {
  policies: {
    direct: { clickhouse: 'hash', deadLetters: 'encrypt', kafka: 'encrypt' },
    quasi: { clickhouse: 'hash', deadLetters: 'encrypt', kafka: 'encrypt' },
  },
};

/**
 * The fraud labels: chargebacks arrive on their own topic days after the payments they dispute
 * and are sunk as they are into ClickHouse table `chargebacks`, where training and the model
 * comparison report find them (LifecycleSpec.labels: entity cardId, time paymentTs). One row per
 * Kafka record (dedupe 'provenance'), so a replay after a crash adds nothing once merged.
 * Undecodable records go to the dead-letter table shared with the other topologies (its
 * `topology` column says 'chargebacks').
 */
export function createChargebacksTopology(options: ChargebacksOptions = {}) {
  const tables = options.tablePrefix ?? '';
  return defineTopology({
    name: 'chargebacks',
    source: kafkaTopic<Chargeback>({ topic: options.topic ?? 'chargebacks', format: 'avro-confluent', eventTime: (c) => c.reportedAt, outOfOrderness: '5s' }),
    // No windows: the labels are stored as they come.
    pipeline: () => ({}),
    sinks: {
      raw: [clickhouseTable<Chargeback>(`${tables}chargebacks`, { schema: 'chargeback.avsc', orderBy: ['cardId', 'paymentTs'], timeField: 'paymentTs', dedupe: 'provenance' })],
    },
    deadLetter: [clickhouseDeadLetters(`${tables}dead_letters`), ...(options.deadLetterTopic ? [kafkaDeadLetters(options.deadLetterTopic)] : [])],
    governance: options.governance ?? inClear(),
  });
}

export default createChargebacksTopology({
  topic: process.env.CHARGEBACKS_TOPIC,
  deadLetterTopic: process.env.KAFKA_BROKERS ? process.env.CHARGEBACKS_DLQ_TOPIC : undefined,
  governance: CHARGEBACKS_GOVERNANCE,
});
