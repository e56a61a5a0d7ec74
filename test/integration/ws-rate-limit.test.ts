import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_ERRORS } from '../../src/push/protocol.ts';
import { TestClient, metricValue, withServer } from './ws-test-client.ts';

test('over the message rate: one error frame, messages ignored, then 4029 if it goes on', () =>
  withServer(
    async (server, metrics) => {
      const client = await TestClient.connect(server);
      for (let i = 0; i < 15; i++) client.send({ type: 'subscribe', channel: `c${i}`, snapshot: false });
      for (let i = 0; i < 10; i++) {
        assert.equal((await client.next<{ type: string; channel: string }>()).channel, `c${i}`); // subscribed
        assert.equal((await client.next<{ type: string }>()).type, 'synced');
      }
      assert.deepEqual(await client.next(), { type: 'error', code: 'rate_limited', error: PROTOCOL_ERRORS.rate_limited });
      // Messages 12 to 15 got no reply at all: the next frame answers a message sent after a pause.
      await new Promise((resolve) => setTimeout(resolve, 450));
      await client.subscribe('late');
      assert.equal((await client.next<{ type: string }>()).type, 'synced');

      for (let i = 0; i < 100; i++) client.send({ type: 'unsubscribe', channel: 'late' });
      const { code, reason } = await client.closed;
      assert.deepEqual({ code, reason }, { code: 4029, reason: 'message rate limit exceeded' });
      assert.equal(await metricValue(metrics.wsDisconnects, { reason: 'rate_limited' }), 1);
      assert.equal(await metricValue(metrics.wsProtocolErrors, { code: 'rate_limited' }), 1);
      // Other clients are unaffected.
      const other = await TestClient.connect(server);
      await other.subscribeSynced('c0');
      await other.close();
    },
    { rateLimit: { messagesPerSecond: 5, burst: 10 } },
  ));
