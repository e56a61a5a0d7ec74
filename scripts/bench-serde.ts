/**
 * Decode rates of the serde layer, to know what the block-count guard costs.
 *   node --import tsx scripts/bench-serde.ts
 * Cases: the payment schema over the Confluent wire (no arrays, maps or ints, so no guard) against bare
 * avsc; a payment with an array and a map (guarded) against bare avsc on the same bytes; the
 * guard walk alone; JSON for reference. Best of 5 rounds of ~0.4 s each, after a warm-up.
 */
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import type { Type } from 'avsc';
import { createAvroDecoder, createAvroEncoder } from '../src/serde/avro.ts';
import { guardFor } from '../src/serde/avro-guard.ts';
import { createJsonDecoder } from '../src/serde/json.ts';
import { LocalSchemaRegistry } from '../src/serde/schema-registry.ts';
import type { NamedSchemaSource, SchemaResolver } from '../src/serde/schema-resolver.ts';

const RECORDS = 1_000;
const ROUNDS = 5;
const ROUND_MS = 400;

const registry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../schemas', import.meta.url)));
const paymentType = registry.schema('payment.avsc');
const paymentSchema = registry.raw('payment.avsc') as avsc.schema.RecordType;
const taggedType = avsc.Type.forSchema({
  type: 'record',
  name: 'TaggedPayment',
  namespace: 'dev.tributary.bench',
  fields: [
    ...paymentSchema.fields,
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'attributes', type: { type: 'map', values: 'string' } },
  ],
});

/** Ids 1 (payment) and 9 (tagged payment), for the Confluent wire. */
const resolver: SchemaResolver & NamedSchemaSource = {
  byId: (id) => (id === 1 ? paymentType : id === 9 ? taggedType : undefined),
  has: (name) => name === 'payment.avsc' || name === 'tagged.avsc',
  schema: (name) => (name === 'tagged.avsc' ? taggedType : paymentType),
  idOf: (name) => (name === 'tagged.avsc' ? 9 : 1),
};

function payment(i: number) {
  return {
    paymentId: `pay-${1_000_000 + i}`,
    cardId: `card-${i % 5_000}`,
    merchantId: `m-${i % 300}`,
    amount: Math.round(Math.random() * 50_000) / 100,
    currency: 'EUR',
    country: ['FR', 'DE', 'NL', 'ES'][i % 4],
    ts: 1_700_000_000_000 + i * 37,
  };
}

function tagged(i: number) {
  return { ...payment(i), tags: ['online', 'card-present', `risk-${i % 3}`], attributes: { channel: 'web', device: `d-${i % 50}` } };
}

const paymentBytes = Array.from({ length: RECORDS }, (_, i) => createAvroEncoder({ wire: 'confluent', registry: resolver, schema: 'payment.avsc' }).encode(payment(i)));
const taggedEncoder = createAvroEncoder({ wire: 'confluent', registry: resolver, schema: 'tagged.avsc' });
const taggedBytes = Array.from({ length: RECORDS }, (_, i) => taggedEncoder.encode(tagged(i)));
const jsonBytes = Array.from({ length: RECORDS }, (_, i) => Buffer.from(JSON.stringify(payment(i))));

const decoder = createAvroDecoder<unknown>({ wire: 'confluent', registry: resolver });
const jsonDecoder = createJsonDecoder();
const taggedGuard = guardFor(taggedType);
if (taggedGuard === null || guardFor(paymentType) !== null) throw new Error('expected a guard for the tagged schema only');

/** What the decoder would cost without its checks: bare avsc on the body after the header. */
function bareAvsc(type: Type) {
  return (bytes: Buffer) => type.decode(bytes, 5).value as unknown;
}

let sink = 0; // Keeps results alive so the work is not optimised away.
function rate(inputs: Buffer[], decode: (bytes: Buffer) => unknown): number {
  let best = 0;
  for (let round = -1; round < ROUNDS; round++) {
    let count = 0;
    const started = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < inputs.length; i++) if (decode(inputs[i]) !== undefined) sink++;
      count += inputs.length;
      elapsed = performance.now() - started;
    } while (elapsed < ROUND_MS);
    if (round >= 0) best = Math.max(best, (count / elapsed) * 1000); // Round -1 is the warm-up.
  }
  return best;
}

const cases: [string, number, Buffer[], (bytes: Buffer) => unknown][] = [
  ['payment, confluent decoder (no guard needed)', paymentBytes[0].length, paymentBytes, (b) => decoder.decode(b)],
  ['payment, bare avsc type.decode', paymentBytes[0].length, paymentBytes, bareAvsc(paymentType)],
  ['payment+array+map, confluent decoder (guard + decode)', taggedBytes[0].length, taggedBytes, (b) => decoder.decode(b)],
  ['payment+array+map, bare avsc type.decode (unguarded)', taggedBytes[0].length, taggedBytes, bareAvsc(taggedType)],
  ['payment+array+map, guard walk alone', taggedBytes[0].length, taggedBytes, (b) => taggedGuard(b, 5)],
  ['payment, JSON decoder', jsonBytes[0].length, jsonBytes, (b) => jsonDecoder.decode(b)],
];

console.log(`node ${process.version}, ${RECORDS} distinct records per case, best of ${ROUNDS} rounds`);
const rates = new Map<string, number>();
for (const [name, size, inputs, decode] of cases) {
  const perSecond = rate(inputs, decode);
  rates.set(name, perSecond);
  console.log(`${name.padEnd(56)} ${String(size).padStart(4)} B  ${(perSecond / 1e6).toFixed(2).padStart(6)} M records/s  ${(1e9 / perSecond).toFixed(0).padStart(5)} ns/record`);
}
const guarded = rates.get(cases[2][0]) ?? 0;
const unguarded = rates.get(cases[3][0]) ?? 0;
console.log(`guard cost on the array+map schema: ${((unguarded / guarded - 1) * 100).toFixed(0)}% more time per record (${(1e9 / guarded - 1e9 / unguarded).toFixed(0)} ns)`);
if (sink === -1) console.log(sink);
