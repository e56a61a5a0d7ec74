import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { schema, types } from 'avsc';
import { ConfigError } from '../../../src/core/errors.ts';
import { LocalSchemaRegistry } from '../../../src/serde/schema-registry.ts';

const schemasDir = fileURLToPath(new URL('../../../schemas', import.meta.url));
const registry = LocalSchemaRegistry.fromDirectory(schemasDir);

const okSchema = JSON.stringify({ type: 'record', name: 'Ok', namespace: 'x', fields: [{ name: 'a', type: 'long' }] });

/** Writes files into a fresh directory, loads it, and removes it again. */
function loadFrom(files: Record<string, string>): LocalSchemaRegistry {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-schemas-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return LocalSchemaRegistry.fromDirectory(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configErrorOf(files: Record<string, string>): ConfigError {
  try {
    loadFrom(files);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the registry to be rejected');
}

test('loads the project schemas with their ids', () => {
  assert.deepEqual(registry.fileNames, ['card_features.avsc', 'chargeback.avsc', 'fraud_prediction.avsc', 'payment.avsc', 'payment_authorization.avsc', 'payment_v2.avsc']);
  assert.equal(registry.byId(4), registry.schema('payment_v2.avsc'));
  assert.equal(registry.byId(1), registry.schema('payment.avsc'));
  assert.equal(registry.byId(2), registry.schema('card_features.avsc'));
  assert.equal(registry.byId(3), registry.schema('fraud_prediction.avsc'));
  assert.equal(registry.byId(5), registry.schema('payment_authorization.avsc'));
  assert.equal(registry.byId(6), registry.schema('chargeback.avsc'));
  assert.equal(registry.byId(7), undefined);
  assert.equal(registry.has('payment.avsc'), true);
  assert.equal(registry.has('nope.avsc'), false);
});

test('idOf accepts a file name or a record full name', () => {
  assert.equal(registry.idOf('payment.avsc'), 1);
  // Two versions share the record name Payment: the full name means the newest (v2, id 4).
  assert.equal(registry.idOf('dev.tributary.examples.Payment'), 4);
  assert.equal(registry.idOf('payment_v2.avsc'), 4);
  assert.equal(registry.idOf('dev.tributary.examples.FraudPrediction'), 3);
  assert.throws(() => registry.idOf('Payment'), ConfigError);
});

test('timestamp-millis stays a plain long (no logical type registered)', () => {
  const payment = registry.schema('payment.avsc') as types.RecordType;
  assert.equal(payment.field('ts').type.typeName, 'long');
});

test('raw returns the schema JSON as written, frozen', () => {
  const raw = registry.raw('payment.avsc') as schema.RecordType;
  assert.equal(raw.name, 'Payment');
  assert.deepEqual(raw.fields[6], {
    name: 'ts',
    type: { type: 'long', logicalType: 'timestamp-millis' },
    doc: 'Event time.',
  });
  assert.equal(Object.isFrozen(raw), true);
  assert.equal(Object.isFrozen(raw.fields[6].type), true);
  assert.throws(() => registry.raw('nope.avsc'), ConfigError);
});

test('a full name shared by two versions maps to the newest id', () => {
  const v2 = JSON.stringify({ type: 'record', name: 'Ok', namespace: 'x', fields: [{ name: 'a', type: 'long' }, { name: 'b', type: 'string', default: '' }] });
  const loaded = loadFrom({ 'ok_v1.avsc': okSchema, 'ok_v2.avsc': v2, 'registry.json': '{"schemas": {"7": "ok_v2.avsc", "3": "ok_v1.avsc"}}' });
  assert.equal(loaded.idOf('x.Ok'), 7);
  assert.equal(loaded.idOf('ok_v1.avsc'), 3);
});

test('files without an id can still be used by name', () => {
  const loaded = loadFrom({ 'ok.avsc': okSchema, 'registry.json': '{"schemas": {}}' });
  assert.equal(loaded.schema('ok.avsc').name, 'x.Ok');
  assert.throws(() => loaded.idOf('ok.avsc'), (error: ConfigError) => error.field === 'schema');
});

test('an invalid schema names its file and avsc\'s complaint', () => {
  const error = configErrorOf({ 'bad.avsc': '{"type": "record", "name": "Bad", "fields": [{"name": "a", "type": "strin"}]}', 'registry.json': '{"schemas": {}}' });
  assert.match(error.field, /bad\.avsc$/);
  assert.match(error.message, /is not a valid Avro schema: .*strin/);
});

test('a schema file that is not JSON names its file', () => {
  const error = configErrorOf({ 'bad.avsc': '{ nope', 'registry.json': '{"schemas": {}}' });
  assert.match(error.field, /bad\.avsc$/);
  assert.match(error.message, /is not valid JSON/);
});

test('registry.json problems name the file and the field', () => {
  const missingFile = configErrorOf({ 'ok.avsc': okSchema, 'registry.json': '{"schemas": {"4": "missing.avsc"}}' });
  assert.match(missingFile.field, /registry\.json schemas\["4"\]$/);
  assert.match(missingFile.message, /names "missing\.avsc", which is not an \.avsc file in /);

  const badId = configErrorOf({ 'ok.avsc': okSchema, 'registry.json': '{"schemas": {"one": "ok.avsc"}}' });
  assert.match(badId.field, /registry\.json schemas\["one"\]$/);

  const zeroId = configErrorOf({ 'ok.avsc': okSchema, 'registry.json': '{"schemas": {"0": "ok.avsc"}}' });
  assert.match(zeroId.field, /registry\.json schemas\["0"\]$/);

  const notAName = configErrorOf({ 'ok.avsc': okSchema, 'registry.json': '{"schemas": {"1": 5}}' });
  assert.match(notAName.message, /the value is not a file name/);

  const twice = configErrorOf({ 'ok.avsc': okSchema, 'registry.json': '{"schemas": {"1": "ok.avsc", "2": "ok.avsc"}}' });
  assert.match(twice.message, /"ok\.avsc" already has id 1/);

  const noSchemas = configErrorOf({ 'ok.avsc': okSchema, 'registry.json': '{"ids": {}}' });
  assert.match(noSchemas.field, /registry\.json schemas$/);

  const noRegistry = configErrorOf({ 'ok.avsc': okSchema });
  assert.match(noRegistry.field, /registry\.json$/);
  assert.match(noRegistry.message, /cannot be read/);
});

test('a missing directory is a ConfigError', () => {
  assert.throws(() => LocalSchemaRegistry.fromDirectory('/nonexistent/schemas'), (error: ConfigError) => error.field === '/nonexistent/schemas');
});
