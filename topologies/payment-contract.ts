import { defineContract, required, range, oneOf, matches, notInFuture, check } from 'tributary';
import type { Payment } from 'tributary/testing';

/** The currencies payments may be in. */
export const PAYMENT_CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'BRL', 'JPY', 'CHF', 'AUD'] as const;

/** The currency a payment in one of these countries must be in (others are not checked). */
export const CURRENCY_OF_COUNTRY: Readonly<Record<string, string>> = { US: 'USD', GB: 'GBP', DE: 'EUR', FR: 'EUR', NL: 'EUR', ES: 'EUR', IT: 'EUR', CA: 'CAD', BR: 'BRL', JP: 'JPY' };

/** Largest amount accepted, in the currency's major unit: a producer sending cents (or garbage) breaks it long before the model sees it. */
export const MAX_PAYMENT_AMOUNT = 1_000_000;

/**
 * The data contract of a payment (schemas/payment.avsc), declared once for every topology that
 * reads payments. The schema says what the fields are; this says what a sane payment is. Rules
 * are checked in this order and a payment is reported under the first it breaks.
 */
export const PAYMENT_CONTRACT = defineContract<Payment>({
  name: 'payment',
  rules: {
    'ids-present': required('paymentId', 'cardId', 'merchantId'),
    // Letters, digits and . _ : - only, at most 64: no whitespace, no payloads in an id.
    'card-id-format': matches('cardId', /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
    'amount-range': range('amount', { min: 0, max: MAX_PAYMENT_AMOUNT }),
    'currency-known': oneOf('currency', PAYMENT_CURRENCIES),
    'country-code': matches('country', /^[A-Z]{2}$/),
    'currency-matches-country': check((p) => CURRENCY_OF_COUNTRY[p.country] === undefined || CURRENCY_OF_COUNTRY[p.country] === p.currency, {
      fields: ['currency', 'country'],
      description: "the currency of the payment's country",
    }),
    // Relative to the batch's processing time, read once per batch (see README, Data contracts).
    'ts-not-future': notInFuture('ts', '1h'),
  },
});

/**
 * A copy of a valid payment that breaks one rule of PAYMENT_CONTRACT, the `k`th in turn: the demo
 * generator sends a few, so its dashboard and dead letters show contracts at work.
 */
export function breakPaymentContract(payment: Payment, k: number): Payment {
  switch (k % 7) {
    case 0: return { ...payment, paymentId: '' };
    case 1: return { ...payment, cardId: `${payment.cardId} ` };
    case 2: return { ...payment, amount: -1 - payment.amount };
    case 3: return { ...payment, currency: 'XXX' };
    case 4: return { ...payment, country: payment.country.toLowerCase() };
    case 5: return { ...payment, currency: payment.currency === 'CHF' ? 'AUD' : 'CHF' };
    default: return { ...payment, ts: payment.ts + 2 * 3_600_000 };
  }
}
