import { share, type OperatorFunction } from 'rxjs';
import { type Batch, defineTopology, kafkaTopic, filter, keyBy, intervalJoin, enrich, clickhouseDeadLetters, clickhouseLateRecords, clickhouseTable, kafkaTable, inClear, type LookupTable, type TopologyGovernance } from 'tributary';

/** A card payment as published on the payment-events topic (JSON). */
export interface PaymentEvent {
  type: 'payment';
  paymentId: string;
  /** Event time, epoch ms. */
  ts: number;
  cardId: string;
  merchantId: string;
  amount: number;
}

/** The issuer's answer to a payment, on the same topic. */
export interface AuthorizationEvent {
  type: 'authorization';
  paymentId: string;
  ts: number;
  authorizationCode: string;
}

export type PaymentFlowEvent = PaymentEvent | AuthorizationEvent;

export type RiskTier = 'low' | 'medium' | 'high';

/** A merchant as kept on the compacted merchants topic (JSON, message key = merchantId). */
export interface Merchant {
  merchantId: string;
  name: string;
  riskTier: RiskTier;
}

/** One row per payment and authorization within 2 minutes, or one unauthorized row per payment with none. */
export interface PaymentAuthorization {
  paymentId: string;
  /** Payment event time, epoch ms. */
  ts: number;
  cardId: string;
  merchantId: string;
  amount: number;
  authorized: boolean;
  authorizationCode: string | null;
  /** Authorization time minus payment time (negative if the authorization came first); null if none. */
  latencyMs: number | null;
  /** The merchant's tier when the row was produced; 'unknown' if the merchant is missing, deleted or expired. */
  merchantRiskTier: RiskTier | 'unknown';
}

/** Keeps one event type; filter passes records through unchanged, so narrowing the type is sound. */
function ofType<K extends PaymentFlowEvent['type']>(type: K): OperatorFunction<Batch<PaymentFlowEvent>, Batch<Extract<PaymentFlowEvent, { type: K }>>> {
  return filter<PaymentFlowEvent>((e) => e.type === type, { name: `only-${type}` }) as OperatorFunction<Batch<PaymentFlowEvent>, Batch<Extract<PaymentFlowEvent, { type: K }>>>;
}

export interface PaymentAuthorizationsOptions {
  topic?: string;
  /** The compacted topic of merchants. Default 'merchants'. */
  merchantsTopic?: string;
  /** Prefix for the ClickHouse tables (tests use a random one). */
  tablePrefix?: string;
  /** Replaces the Kafka-fed merchants table (tests fill an in-memory one). */
  merchants?: LookupTable<Merchant>;
  /** Data protection; default inClear() (synthetic data), the default export uses PAYMENT_AUTHORIZATIONS_GOVERNANCE. */
  governance?: TopologyGovernance;
}

/**
 * Card ids (direct), payment and merchant ids (quasi) as keyed hashes, the same as card-fraud's
 * (one key store: joins across the topologies' tables work); amounts to 2 significant digits in
 * the table, tokens under the card's key in late records; dead letters encrypted.
 */
export const PAYMENT_AUTHORIZATIONS_GOVERNANCE: TopologyGovernance = {
  policies: {
    direct: { clickhouse: 'hash', late: 'hash', deadLetters: 'encrypt' },
    quasi: { clickhouse: 'hash', late: 'hash', deadLetters: 'encrypt' },
    sensitive: { clickhouse: { significant: 2 }, late: 'token', deadLetters: 'encrypt' },
  },
};

/** Merchants not updated for 24 hours count as unknown: a stale risk tier is not trusted. */
export const MERCHANT_TTL = '24h';

export function merchantsTable(topic = 'merchants'): LookupTable<Merchant> {
  return kafkaTable<Merchant>({ name: 'merchants', topic, format: 'json', ttl: MERCHANT_TTL });
}

/**
 * Payments left-joined with their authorizations (same topic, split by `type`, keyed by
 * paymentId) within 2 minutes either way, 10 s grace: every payment yields a row, authorized or
 * not, about 2m10s of event time after it at the latest. An authorization later than the grace
 * goes to the late records (step 'payment-authorization'), never silently away.
 *
 * Each joined row is then enriched with its merchant's risk tier from the merchants table (a
 * compacted topic, latest record per merchant, 24 h TTL), as the table is when the row is
 * produced; rows go to the ClickHouse table `payment_authorizations`.
 */
export function createPaymentAuthorizationsTopology(options: PaymentAuthorizationsOptions = {}) {
  const tables = options.tablePrefix ?? '';
  const merchants = options.merchants ?? merchantsTable(options.merchantsTopic);
  return defineTopology({
    name: 'payment-authorizations',
    source: kafkaTopic<PaymentFlowEvent>({ topic: options.topic ?? 'payment-events', format: 'json', eventTime: (e) => e.ts, outOfOrderness: '5s' }),
    tables: [merchants],
    pipeline: (input) => {
      const events = input.pipe(share());
      const payments = events.pipe(ofType('payment'), keyBy((p) => p.paymentId));
      const authorizations = events.pipe(ofType('authorization'), keyBy((a) => a.paymentId));
      const authorized = intervalJoin(payments, authorizations, {
        within: '2m',
        grace: '10s',
        type: 'left',
        name: 'payment-authorization',
        combine: (p, a): Omit<PaymentAuthorization, 'merchantRiskTier'> => ({
          paymentId: p.paymentId,
          ts: p.ts,
          cardId: p.cardId,
          merchantId: p.merchantId,
          amount: p.amount,
          authorized: a !== undefined,
          authorizationCode: a === undefined ? null : a.authorizationCode,
          latencyMs: a === undefined ? null : a.ts - p.ts,
        }),
      });
      const enriched = authorized.pipe(
        enrich(merchants, {
          key: (row) => row.merchantId,
          combine: (row, merchant): PaymentAuthorization => ({ ...row, merchantRiskTier: merchant?.riskTier ?? 'unknown' }),
          name: 'merchant-risk',
        }),
      );
      return { authorizations: enriched };
    },
    sinks: {
      authorizations: [clickhouseTable(`${tables}payment_authorizations`, { schema: 'payment_authorization.avsc', orderBy: ['ts', 'paymentId'], timeField: 'ts' })],
    },
    late: clickhouseLateRecords(`${tables}late_records`),
    deadLetter: clickhouseDeadLetters(`${tables}dead_letters`),
    governance: options.governance ?? inClear(),
  });
}

export default createPaymentAuthorizationsTopology({ topic: process.env.PAYMENT_EVENTS_TOPIC, merchantsTopic: process.env.MERCHANTS_TOPIC, governance: PAYMENT_AUTHORIZATIONS_GOVERNANCE });
