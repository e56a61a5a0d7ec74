import { SeededRandom, ZipfSampler } from './random.ts';

/** The payment event of the example topology (schemas/payment.avsc). */
export interface Payment {
  paymentId: string;
  cardId: string;
  merchantId: string;
  amount: number;
  currency: string;
  country: string;
  ts: number;
}

export interface CardPaymentOptions {
  seed?: number;
  cards?: number;
  merchants?: number;
  /** Probability that a generated event starts a fraud burst on some card. */
  fraudRate?: number;
  /** Share of events delivered late by up to `lateMaxMs` (beyond the usual small jitter). */
  lateShare?: number;
  lateMaxMs?: number;
  /**
   * Drift on purpose (demos and tests of drift monitoring): from event time `from` (epoch ms)
   * on, the amounts of a share of the cards are multiplied by `factor`. The cards are those whose
   * index modulo 100 is below `cardShare` x 100 (`shiftedCard`). Draws no random numbers, so the
   * stream is otherwise the one the seed gives.
   */
  amountShift?: AmountShift;
}

export interface AmountShift {
  from: number;
  factor: number;
  /** 0 to 1. */
  cardShare: number;
}

/** Whether `amountShift` applies to the card `card-<index>` (see CardPaymentOptions.amountShift). */
export function shiftedCard(cardIndex: number, cardShare: number): boolean {
  return cardIndex % 100 < Math.round(cardShare * 100);
}

const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'NL', 'ES', 'IT', 'CA', 'BR', 'JP'] as const;
const CURRENCY: Record<string, string> = { US: 'USD', GB: 'GBP', DE: 'EUR', FR: 'EUR', NL: 'EUR', ES: 'EUR', IT: 'EUR', CA: 'CAD', BR: 'BRL', JP: 'JPY' };

interface ScheduledFraud {
  ts: number;
  cardIndex: number;
}

/**
 * Synthetic card payments with a labelled fraud pattern. Normal traffic: Zipf-skewed cards and
 * merchants, log-normal amounts, mostly in the card's home country. Fraud: a compromised card
 * makes a burst of 6-14 large payments a few seconds apart, abroad. Timestamps jitter backwards
 * a little, and a small share arrives much later, so the stream is out of order like real ones.
 */
export class CardPaymentModel {
  private readonly random: SeededRandom;
  private readonly cardSampler: ZipfSampler;
  private readonly merchantSampler: ZipfSampler;
  private readonly homeCountry: string[];
  private readonly options: Required<Omit<CardPaymentOptions, 'amountShift'>>;
  private readonly shift: AmountShift | undefined;
  private readonly scheduled: ScheduledFraud[] = [];
  private sequence = 0;

  constructor(options: CardPaymentOptions = {}) {
    const { amountShift, ...rest } = options;
    this.options = { seed: 42, cards: 5_000, merchants: 500, fraudRate: 0.004, lateShare: 0.002, lateMaxMs: 60_000, ...rest };
    this.shift = amountShift;
    this.random = new SeededRandom(this.options.seed);
    this.cardSampler = new ZipfSampler(this.options.cards, 0.9);
    this.merchantSampler = new ZipfSampler(this.options.merchants, 1.1);
    this.homeCountry = Array.from({ length: this.options.cards }, () => this.random.pick(COUNTRIES));
  }

  /** The next payment at nominal time `now` (epoch ms) and whether it is fraudulent. */
  next(now: number): { payment: Payment; fraud: boolean } {
    const random = this.random;
    if (random.next() < this.options.fraudRate) this.scheduleBurst(now);
    const due = this.scheduled.length > 0 && this.scheduled[0]!.ts <= now ? this.scheduled.shift()! : null;
    const fraud = due !== null;
    const cardIndex = fraud ? due.cardIndex : this.cardSampler.sample(random);
    const home = this.homeCountry[cardIndex]!;
    const country = fraud ? random.pick(COUNTRIES.filter((c) => c !== home)) : random.next() < 0.95 ? home : random.pick(COUNTRIES);
    let amount = fraud ? random.logNormal(5.8, 0.5) : random.logNormal(3.4, 0.9);
    let delay = random.exponential(400);
    if (random.next() < this.options.lateShare) delay += random.between(0, this.options.lateMaxMs);
    const ts = Math.round(now - delay);
    const shift = this.shift;
    if (shift !== undefined && ts >= shift.from && shiftedCard(cardIndex, shift.cardShare)) amount *= shift.factor;
    const payment: Payment = {
      paymentId: `p-${this.options.seed}-${this.sequence++}`,
      cardId: `card-${cardIndex.toString().padStart(5, '0')}`,
      merchantId: `m-${fraud ? random.int(this.options.merchants) : this.merchantSampler.sample(random)}`,
      amount: Math.round(amount * 100) / 100,
      currency: CURRENCY[country]!,
      country,
      ts,
    };
    return { payment, fraud };
  }

  private scheduleBurst(now: number): void {
    const cardIndex = this.random.int(this.options.cards);
    const size = 6 + this.random.int(9);
    let ts = now;
    for (let i = 0; i < size; i++) {
      ts += this.random.between(2_000, 12_000);
      this.scheduled.push({ ts, cardIndex });
    }
    this.scheduled.sort((a, b) => a.ts - b.ts);
  }
}
