/**
 * What the payment contract costs per record, next to what decoding costs.
 *   node --import tsx scripts/bench-contract.ts
 * Cases: ContractCheck.apply over batches of 1,000 payments (the card-fraud contract, seven rules)
 * with no violation and with one in 100; the Confluent-wire Avro decode of the same payments for
 * reference. Best of 5 rounds of ~0.4 s each, after a warm-up.
 */
import { fileURLToPath } from 'node:url';
import { ContractCheck } from '../src/contracts/contract-check.ts';
import type { StreamRecord } from '../src/core/batch.ts';
import { createAvroDecoder, createAvroEncoder } from '../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../src/serde/schema-registry.ts';
import { CardPaymentModel, type Payment } from '../src/sources/generator/card-payments.ts';
import { PAYMENT_CONTRACT } from '../topologies/payment-contract.ts';

const BATCH = 1_000;
const ROUNDS = 5;
const ROUND_MS = 400;

const model = new CardPaymentModel({ seed: 3 });
const start = Date.UTC(2026, 0, 1);
const payments: Payment[] = Array.from({ length: BATCH }, (_, i) => model.next(start + i * 50).payment);
const now = start + BATCH * 50;
const records = (list: Payment[]): StreamRecord<Payment>[] => list.map((value, i) => ({ value, key: '', eventTime: value.ts, topic: 'payments', partition: 0, offset: String(i) }));
const clean = records(payments);
const dirty = records(payments.map((p, i) => (i % 100 === 7 ? { ...p, currency: 'XXX' } : p)));

const registry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../schemas', import.meta.url)));
const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry, schema: 'payment.avsc' });
const decoder = createAvroDecoder<Payment>({ wire: 'confluent', registry });
const encoded = payments.map((p) => encoder.encode(p));

/** Nanoseconds per record: the best of ROUNDS rounds of repeated `run()` over BATCH records. */
function measure(run: () => unknown): number {
  for (let i = 0; i < 200; i++) run();
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    let batches = 0;
    const started = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      run();
      batches++;
      elapsed = process.hrtime.bigint() - started;
    } while (elapsed < BigInt(ROUND_MS) * 1_000_000n);
    best = Math.min(best, Number(elapsed) / (batches * BATCH));
  }
  return best;
}

const check = new ContractCheck(PAYMENT_CONTRACT);
let sink = 0;
const results = {
  'contract, no violation': measure(() => (sink += check.apply(clean, now).kept.length)),
  'contract, 1% violations': measure(() => (sink += check.apply(dirty, now).violations.length)),
  'avro decode (confluent wire)': measure(() => {
    for (const bytes of encoded) sink += decoder.decode(bytes).amount > 0 ? 1 : 0;
  }),
};
for (const [name, ns] of Object.entries(results)) console.log(`${name.padEnd(30)} ${ns.toFixed(1).padStart(7)} ns/record  ${(1e9 / ns / 1e6).toFixed(2).padStart(6)} M records/s`);
if (sink < 0) console.log(sink);
