import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/observability/logger.ts';
import { readinessRoutes } from '../../src/push/http-routes.ts';
import { startPushServer } from '../../src/push/uws-push-server.ts';
import { Readiness } from '../../src/observability/readiness.ts';

test('GET /readyz answers 503 with the reason until the engine is ready, 200 then, 503 again once stopping; /healthz stays 200', async () => {
  const readiness = new Readiness();
  const server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, extraRoutes: readinessRoutes(readiness) });
  const ready = async () => {
    const response = await fetch(`${server.url}/readyz`);
    assert.equal(response.headers.get('content-type'), 'application/json');
    return { status: response.status, body: (await response.json()) as { ready: boolean; reason?: string; partitions: number | null } };
  };
  try {
    assert.deepEqual(await ready(), {
      status: 503,
      body: { ready: false, reason: 'sinks are not open yet', checks: { sinksOpen: false, sourceRunning: false, assigned: false, started: false }, partitions: null },
    });
    readiness.sinksOpened();
    readiness.sourceStarted();
    assert.equal((await ready()).body.reason, 'no partitions assigned yet (joining the consumer group)');
    readiness.assigned(3);
    readiness.engineStarted();
    assert.deepEqual(await ready(), { status: 200, body: { ready: true, checks: { sinksOpen: true, sourceRunning: true, assigned: true, started: true }, partitions: 3 } });
    readiness.stopped('stopping (SIGTERM)');
    const stopping = await ready();
    assert.equal(stopping.status, 503);
    assert.equal(stopping.body.reason, 'stopping (SIGTERM)');
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
  } finally {
    await server.close();
  }
});
