import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/core/errors.ts';
import { createAvroEncoder } from '../../../src/serde/avro.ts';
import { createDecoder } from '../../../src/serde/create-decoder.ts';
import { LocalSchemaRegistry } from '../../../src/serde/schema-registry.ts';
import { toPlain } from '../../fixtures/serde/avro-bytes.ts';

const registry = LocalSchemaRegistry.fromDirectory(fileURLToPath(new URL('../../../schemas', import.meta.url)));
const payment = { paymentId: 'p', cardId: 'c', merchantId: 'm', amount: 1.5, currency: 'USD', country: 'US', ts: 1_700_000_000_000 };

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('each format gets its decoder', () => {
  const confluent = createDecoder({ format: 'avro-confluent', registry });
  const binary = createDecoder({ format: 'avro', schema: 'payment.avsc', registry });
  const json = createDecoder({ format: 'json' });
  assert.deepEqual([confluent.format, binary.format, json.format], ['avro-confluent', 'avro', 'json']);
  const confluentBytes = createAvroEncoder({ wire: 'confluent', registry, schema: 'payment.avsc' }).encode(payment);
  assert.deepEqual(toPlain(confluent.decode(confluentBytes)), payment);
  assert.deepEqual(toPlain(binary.decode(confluentBytes.subarray(5))), payment);
  assert.deepEqual(json.decode(Buffer.from(JSON.stringify(payment))), payment);
});

test('"avro" without a schema names source.schema and the fix', () => {
  const error = configError(() => createDecoder({ format: 'avro', registry }));
  assert.equal(error.field, 'source.schema');
  assert.equal(
    error.message,
    'Invalid configuration "source.schema": format "avro" (bare Avro binary, no header) needs a schema file. ' +
      'Fix: set source.schema to a file in schemas/, e.g. "payment.avsc", or use format "avro-confluent" if producers write the Confluent header',
  );
});

test('an unknown schema file is a source.schema ConfigError for both Avro formats', () => {
  for (const format of ['avro', 'avro-confluent'] as const) {
    const error = configError(() => createDecoder({ format, schema: 'paymnet.avsc', registry }));
    assert.equal(error.field, 'source.schema');
    assert.match(error.message, /no schema file "paymnet\.avsc" in the schema registry/);
  }
});

test('Avro formats need a registry; unknown formats are named', () => {
  assert.equal(configError(() => createDecoder({ format: 'avro-confluent' })).field, 'source.registry');
  const unknown = configError(() => createDecoder({ format: 'protobuf' as never }));
  assert.equal(unknown.field, 'source.format');
  assert.equal(unknown.message, 'Invalid configuration "source.format": unknown format "protobuf". Fix: use one of "avro", "avro-confluent", "json"');
});
