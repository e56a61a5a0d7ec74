import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology, kafkaTopic, ConfigError } from 'tributary';
import { Engine } from 'tributary/engine';
import { engineConfig, uniqueName } from '../helpers/services.ts';
import { silentLogger } from '../../src/observability/logger.ts';

test('a topic the broker does not have stops the start with a ConfigError naming the topic, the brokers and how to create it', async () => {
  const config = engineConfig();
  const topic = uniqueName('missing_topic');
  const topology = defineTopology({
    name: 'missing-topic',
    source: kafkaTopic<{ ts: number }>({ topic, format: 'json', eventTime: (e) => e.ts }),
    pipeline: (events) => ({ out: events }),
    sinks: { out: [] },
  });
  await assert.rejects(Engine.start(topology, { config, logger: silentLogger, push: false }), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `a ConfigError, not ${String(error)}`);
    assert.equal(error.field, 'source.topic');
    assert.equal(error.retriable, false);
    const brokers = config.kafkaBrokers!.join(',');
    assert.ok(error.message.includes(`topic "${topic}" does not exist on the Kafka cluster at ${brokers}`), error.message);
    assert.ok(error.message.includes(`kafka-topics.sh --bootstrap-server ${config.kafkaBrokers![0]} --create --topic ${topic}`), error.message);
    assert.match(error.message, /auto\.create\.topics\.enable=true/);
    assert.doesNotMatch(error.message, /does not host this topic-partition/);
    return true;
  });
});
