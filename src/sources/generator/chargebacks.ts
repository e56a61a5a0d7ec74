import { SeededRandom } from './random.ts';
import type { Payment } from './card-payments.ts';

/** A disputed payment, the fraud label (schemas/chargeback.avsc). */
export interface Chargeback {
  chargebackId: string;
  paymentId: string;
  cardId: string;
  /** Event time of the disputed payment, epoch ms: what labels feature rows. */
  paymentTs: number;
  /** When the issuer reported it, epoch ms: the chargeback's own event time. */
  reportedAt: number;
  reason: string;
}

export const CHARGEBACK_REASONS = ['fraud-card-not-present', 'fraud-card-present', 'unrecognised-transaction'] as const;

const DAY_MS = 86_400_000;

export interface ChargebackOptions {
  /** Reports arrive this many days after the payment, at least and at most (default 2 and 30). */
  minDelayDays?: number;
  maxDelayDays?: number;
}

/**
 * The chargeback for a fraudulent payment, as an issuer reports it days later. Deterministic:
 * the id, delay and reason derive from the payment id alone, so regenerating the payments of a
 * seed regenerates the same chargebacks (and a replay produces identical records).
 */
export function chargebackFor(payment: Payment, options: ChargebackOptions = {}): Chargeback {
  const minDays = options.minDelayDays ?? 2;
  const maxDays = options.maxDelayDays ?? 30;
  const random = new SeededRandom(hash32(payment.paymentId));
  return {
    chargebackId: `cb-${payment.paymentId}`,
    paymentId: payment.paymentId,
    cardId: payment.cardId,
    paymentTs: payment.ts,
    reportedAt: payment.ts + Math.round(random.between(minDays, maxDays) * DAY_MS),
    reason: CHARGEBACK_REASONS[random.int(CHARGEBACK_REASONS.length)]!,
  };
}

/** The chargebacks of the fraudulent payments among generator output ({ payment, fraud } from CardPaymentModel.next). */
export function chargebacksOf(generated: Iterable<{ payment: Payment; fraud: boolean }>, options: ChargebackOptions = {}): Chargeback[] {
  const chargebacks: Chargeback[] = [];
  for (const { payment, fraud } of generated) if (fraud) chargebacks.push(chargebackFor(payment, options));
  return chargebacks;
}

/** FNV-1a, 32 bits: a stable seed from a string. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
