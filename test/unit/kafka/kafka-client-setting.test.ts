import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/topology/config.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { createKafkaClient } from '../../../src/kafka/create-kafka-client.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

// TRIBUTARY_KAFKA_CLIENT chooses the library behind the Kafka port; kafkajs unless it is set.

const BROKERS = { KAFKA_BROKERS: '127.0.0.1:9092' };

function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('unset: no client chosen (kafkajs); kafkajs and platformatic are read as given', () => {
  assert.equal(loadConfig(BROKERS).kafkaClient, undefined);
  assert.equal(loadConfig({ ...BROKERS, TRIBUTARY_KAFKA_CLIENT: 'kafkajs' }).kafkaClient, 'kafkajs');
  assert.equal(loadConfig({ ...BROKERS, TRIBUTARY_KAFKA_CLIENT: 'platformatic' }).kafkaClient, 'platformatic');
});

test('an unknown client is refused, naming the setting and the choices', () => {
  const error = refusal(() => loadConfig({ ...BROKERS, TRIBUTARY_KAFKA_CLIENT: 'librdkafka' }));
  assert.equal(error.field, 'TRIBUTARY_KAFKA_CLIENT');
  assert.match(error.message, /"librdkafka" is invalid/);
  assert.match(error.message, /'kafkajs' \(default\) or 'platformatic'/);
});

test('platformatic with a secured cluster is refused at startup, naming TRIBUTARY_KAFKA_CLIENT, not downgraded to plaintext', () => {
  const env = { ...BROKERS, TRIBUTARY_KAFKA_CLIENT: 'platformatic', KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'the-password-1' };
  const error = refusal(() => loadConfig(env));
  assert.equal(error.field, 'TRIBUTARY_KAFKA_CLIENT');
  assert.match(error.message, /KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT/);
  assert.ok(!error.message.includes('the-password-1'));
  // The same refusal where a client is built directly (benchmarks, embedding code).
  const security = loadConfig({ ...env, TRIBUTARY_KAFKA_CLIENT: 'kafkajs' }).kafkaSecurity;
  assert.equal(refusal(() => createKafkaClient({ brokers: ['127.0.0.1:9092'], clientId: 't', logger: silentLogger, security, kind: 'platformatic' })).field, 'TRIBUTARY_KAFKA_CLIENT');
});
