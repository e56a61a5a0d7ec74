import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { SCHEMAS_DIR, uniqueName } from '../helpers/services.ts';

// The real registry started by scripts/schema-registry.sh (Apicurio Registry, Confluent API),
// driven by a Confluent client from npm.

interface AvroField {
  name: string;
  type: unknown;
  default?: unknown;
  doc?: string;
}
interface AvroRecord {
  type: 'record';
  name: string;
  namespace: string;
  fields: AvroField[];
}
/** What the client throws for an HTTP error answer (mappersmith's ResponseError). */
interface HttpError {
  status: number;
  message: string;
}

function registryUrl(): string {
  const url = process.env.SCHEMA_REGISTRY_URL;
  if (!url) {
    throw new Error('SCHEMA_REGISTRY_URL is not set: start the registry with `bash scripts/schema-registry.sh start` and run `eval "$(bash scripts/schema-registry.sh env)"`');
  }
  return url;
}

const paymentV1 = JSON.parse(readFileSync(path.join(SCHEMAS_DIR, 'payment.avsc'), 'utf8')) as AvroRecord;
// BACKWARD-compatible: a reader on v2 fills the new field from its default when reading v1 data.
const paymentV2: AvroRecord = { ...paymentV1, fields: [...paymentV1.fields, { name: 'channel', type: 'string', default: 'web' }] };
// Incompatible with v2: a new field without a default (v2 data has no value for it) ...
const withRequiredField: AvroRecord = { ...paymentV2, fields: [...paymentV2.fields, { name: 'riskScore', type: 'double' }] };
// ... and a field whose type changed (a string reader cannot read v2's double).
const amountIndex = paymentV2.fields.findIndex((field) => field.name === 'amount');
const withChangedType: AvroRecord = {
  ...paymentV2,
  fields: paymentV2.fields.map((field) => (field.name === 'amount' ? { ...field, type: 'string' } : field)),
};

function avro(schema: AvroRecord): { type: SchemaType.AVRO; schema: string } {
  return { type: SchemaType.AVRO, schema: JSON.stringify(schema) };
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url} answered ${response.status}: ${await response.clone().text()}`);
  return response.json();
}

async function rejection(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    return error as HttpError;
  }
  assert.fail('the registry accepted an incompatible schema');
}

test('register, fetch by id, evolve BACKWARD-compatibly, and have incompatible versions rejected with 409', async () => {
  const url = registryUrl();
  const registry = new SchemaRegistry({ host: url });
  const subject = `${uniqueName('payments')}-value`;

  const { id: v1Id } = await registry.register(avro(paymentV1), { subject, compatibility: COMPATIBILITY.BACKWARD });
  assert.ok(Number.isInteger(v1Id) && v1Id > 0, `id ${v1Id}`);
  assert.deepEqual(await getJson(`${url}/config/${subject}`), { compatibilityLevel: 'BACKWARD' });

  // Fetched back by id: the schema as stored on the server, field by field.
  const fetched = (await registry.getSchema(v1Id)) as unknown as { name: string; fields: { name: string }[] };
  assert.equal(fetched.name, `${paymentV1.namespace}.${paymentV1.name}`);
  assert.deepEqual(fetched.fields.map((field) => field.name), paymentV1.fields.map((field) => field.name));
  const byIdOverHttp = (await getJson(`${url}/schemas/ids/${v1Id}`)) as { schema: string };
  assert.deepEqual(JSON.parse(byIdOverHttp.schema), paymentV1);

  const { id: v2Id } = await registry.register(avro(paymentV2), { subject, compatibility: COMPATIBILITY.BACKWARD });
  assert.notEqual(v2Id, v1Id);
  assert.equal(await registry.getRegistryId(subject, 1), v1Id);
  assert.equal(await registry.getRegistryId(subject, 2), v2Id);

  const missingDefault = await rejection(registry.register(avro(withRequiredField), { subject, compatibility: COMPATIBILITY.BACKWARD }));
  assert.equal(missingDefault.status, 409);
  assert.match(missingDefault.message, new RegExp(`Incompatible artifact: ${subject} \\[AVRO\\]`));
  assert.match(missingDefault.message, new RegExp(`riskScore at /fields/${paymentV2.fields.length}\\b`));

  const changedType = await rejection(registry.register(avro(withChangedType), { subject, compatibility: COMPATIBILITY.BACKWARD }));
  assert.equal(changedType.status, 409);
  assert.match(changedType.message, new RegExp(`Incompatible artifact: ${subject} \\[AVRO\\]`));
  assert.match(changedType.message, new RegExp(`reader type: STRING not compatible with writer type: DOUBLE at /fields/${amountIndex}/type`));

  // Nothing rejected was stored: still two versions, v2 the latest.
  assert.deepEqual(await getJson(`${url}/subjects/${subject}/versions`), [1, 2]);
  assert.equal(await registry.getLatestSchemaId(subject), v2Id);

  // The ids work on the wire: magic byte 0, the id as a big-endian int32, then Avro.
  const payment = { paymentId: 'p-1', cardId: 'c-7', merchantId: 'm-3', amount: 12.5, currency: 'EUR', country: 'FR', ts: 1_700_000_000_000, channel: 'app' };
  const message = await registry.encode(v2Id, payment);
  assert.equal(message[0], 0);
  assert.equal(message.readInt32BE(1), v2Id);
  assert.deepEqual({ ...(await registry.decode(message)) }, payment);
});

test('a subject without its own compatibility level gets the BACKWARD default, as in Confluent', async () => {
  const url = registryUrl();
  const subject = `${uniqueName('defaults')}-value`;
  const post = (schema: AvroRecord) =>
    fetch(`${url}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
    });

  assert.equal((await post(paymentV1)).status, 200);
  assert.equal((await post(paymentV2)).status, 200);
  const rejected = await post(withRequiredField);
  assert.equal(rejected.status, 409);
  const body = (await rejected.json()) as { message: string };
  assert.match(body.message, new RegExp(`Incompatible artifact: ${subject} \\[AVRO\\]`));
  assert.deepEqual(await getJson(`${url}/subjects/${subject}/versions`), [1, 2]);
});
