import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { config as rxConfig } from 'rxjs';
import { defineTopology, generatorSource, kafkaTopic, keyBy, tumbling, aggregate, count } from 'tributary';
import { Engine } from 'tributary/engine';
import { silentLogger } from '../../../src/observability/logger.ts';
import { freePort } from '../../helpers/free-port.ts';

interface Click {
  user: string;
  ts: number;
}

function boundedTopology() {
  let n = 0;
  return defineTopology({
    name: 'embedded',
    source: kafkaTopic<Click>({ topic: 'clicks', format: 'json', eventTime: (c) => c.ts }),
    demoSource: generatorSource<Click>({ events: () => ({ next: (ts: number) => ({ user: `u${n++ % 5}`, ts }) }), eventTime: (c) => c.ts, eventsPerSecond: 100, pace: 'max', startTime: 0, limit: 600 }),
    pipeline: (clicks) => ({ counts: clicks.pipe(keyBy((c) => c.user), tumbling('1m'), aggregate({ n: count() })) }),
    sinks: { counts: [] },
  });
}

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

test('an Engine started from code reads no environment, opens no port and leaves RxJS global error handler alone', async () => {
  const handlerBefore = rxConfig.onUnhandledError;
  const saved = { KAFKA_BROKERS: process.env.KAFKA_BROKERS, PORT: process.env.PORT, TRIBUTARY_MAX_IN_FLIGHT: process.env.TRIBUTARY_MAX_IN_FLIGHT };
  // Invalid settings: an engine that read the environment would fail on them, or use a broker.
  process.env.KAFKA_BROKERS = 'not a broker list';
  process.env.PORT = 'eighty';
  process.env.TRIBUTARY_MAX_IN_FLIGHT = '-1';
  try {
    // Another process on this machine may hold the default port: only a change counts.
    const listenedBefore = await listening(8080);
    const engine = await Engine.start(boundedTopology(), { logger: silentLogger });
    assert.equal(engine.config.kafkaBrokers, undefined, 'the defaults, not KAFKA_BROKERS');
    assert.equal(engine.environment.pushServer, undefined, 'no HTTP/WebSocket server unless push: true');
    assert.equal(engine.config.port, 8080);
    assert.equal(await listening(8080), listenedBefore, 'the engine opened no port');
    assert.equal(rxConfig.onUnhandledError, handlerBefore, 'the global RxJS handler is untouched');
    await engine.done;
    await engine.stop();
    assert.equal(engine.stats().processedRecords, 600);
    assert.equal(rxConfig.onUnhandledError, handlerBefore);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test('push: true opens the port the config names', async () => {
  const port = await freePort();
  const { defaultConfig } = await import('../../../src/topology/config.ts');
  const engine = await Engine.start(boundedTopology(), { logger: silentLogger, push: true, config: { ...defaultConfig(), port } });
  try {
    assert.equal(engine.environment.pushServer?.port, port);
    assert.equal(await listening(port), true);
  } finally {
    await engine.stop();
  }
});
