import { share, type OperatorFunction } from 'rxjs';
import type { Batch } from '../src/core/batch.ts';
import { defineTopology } from '../src/topology/define-topology.ts';
import { kafkaTopic } from '../src/sources/kafka/kafka-source.ts';
import { filter } from '../src/operators/filter.ts';
import { keyBy } from '../src/operators/key-by.ts';
import { intervalJoin } from '../src/operators/interval-join.ts';
import { clickhouseDeadLetters } from '../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseLateRecords } from '../src/sinks/clickhouse/late-table.ts';

/** A card payment as published on the payment-events topic (JSON). */
export interface PaymentEvent {
  type: 'payment';
  paymentId: string;
  /** Event time, epoch ms. */
  ts: number;
  cardId: string;
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

/** One row per payment and authorization within 2 minutes, or one unauthorized row per payment with none. */
export interface PaymentAuthorization {
  paymentId: string;
  cardId: string;
  amount: number;
  authorized: boolean;
  authorizationCode: string | null;
  /** Authorization time minus payment time (negative if the authorization came first); null if none. */
  latencyMs: number | null;
}

/** Keeps one event type; filter passes records through unchanged, so narrowing the type is sound. */
function ofType<K extends PaymentFlowEvent['type']>(type: K): OperatorFunction<Batch<PaymentFlowEvent>, Batch<Extract<PaymentFlowEvent, { type: K }>>> {
  return filter<PaymentFlowEvent>((e) => e.type === type, { name: `only-${type}` }) as OperatorFunction<Batch<PaymentFlowEvent>, Batch<Extract<PaymentFlowEvent, { type: K }>>>;
}

export interface PaymentAuthorizationsOptions {
  topic?: string;
  /** Prefix for the late-record and dead-letter tables (tests use a random one). */
  tablePrefix?: string;
}

/**
 * Payments left-joined with their authorizations (same topic, split by `type`, keyed by
 * paymentId) within 2 minutes either way, 10 s grace: every payment yields a row, authorized or
 * not, about 2m10s of event time after it at the latest. An authorization later than the grace
 * goes to the late records (step 'payment-authorization'), never silently away.
 *
 * Sinks: none for `authorizations` yet. clickhouseTable needs an Avro schema in schemas/ and this
 * example adds none; late records and dead letters use the schema-free tables.
 */
export function createPaymentAuthorizationsTopology(options: PaymentAuthorizationsOptions = {}) {
  const tables = options.tablePrefix ?? '';
  return defineTopology({
    name: 'payment-authorizations',
    source: kafkaTopic<PaymentFlowEvent>({ topic: options.topic ?? 'payment-events', format: 'json', eventTime: (e) => e.ts, outOfOrderness: '5s' }),
    pipeline: (input) => {
      const events = input.pipe(share());
      const payments = events.pipe(ofType('payment'), keyBy((p) => p.paymentId));
      const authorizations = events.pipe(ofType('authorization'), keyBy((a) => a.paymentId));
      const authorized = intervalJoin(payments, authorizations, {
        within: '2m',
        grace: '10s',
        type: 'left',
        name: 'payment-authorization',
        combine: (p, a): PaymentAuthorization => ({
          paymentId: p.paymentId,
          cardId: p.cardId,
          amount: p.amount,
          authorized: a !== undefined,
          authorizationCode: a === undefined ? null : a.authorizationCode,
          latencyMs: a === undefined ? null : a.ts - p.ts,
        }),
      });
      return { authorizations: authorized };
    },
    sinks: {},
    late: clickhouseLateRecords(`${tables}late_records`),
    deadLetter: clickhouseDeadLetters(`${tables}dead_letters`),
  });
}

export default createPaymentAuthorizationsTopology({ topic: process.env.PAYMENT_EVENTS_TOPIC });
