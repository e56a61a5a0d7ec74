import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/observability/logger.ts';
import { resolvePushSettings } from '../../../src/push/push-options.ts';

const base = { port: 0, logger: silentLogger };

test('defaults', () => {
  assert.deepEqual(resolvePushSettings(base), {
    host: '0.0.0.0',
    listenRetryMs: 0,
    maxPayloadLength: 16384,
    idleTimeoutSeconds: 120,
    maxBackpressureBytes: 1048576,
    heartbeatIntervalMs: 10000,
    replayItems: 10000,
    replayBytes: 8388608,
    replayByChannel: new Map(),
    snapshotKeys: 10000,
    snapshotBytes: 8388608,
    softBufferBytes: 262144,
    maxPendingBytes: 16777216,
    maxTotalPendingBytes: 134217728,
    maxBehindMs: 10000,
    messagesPerSecond: 20,
    messageBurst: 100,
    maxChannelsPerClient: 64,
    maxConnectionsPerIp: 50,
  });
  assert.equal(resolvePushSettings({ ...base, maxBackpressureBytes: 64 * 1024 }).softBufferBytes, 16 * 1024);
});

test('inconsistent limits are ConfigErrors naming the field', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ heartbeatIntervalMs: 50 }, 'heartbeatIntervalMs'],
    [{ replay: { items: 0 } }, 'replay.items'],
    [{ replayByChannel: { stats: { items: 0 } } }, 'replayByChannel.stats.items'],
    [{ replayByChannel: { stats: { bytes: 100 } } }, 'replayByChannel.stats.bytes'],
    [{ replayByChannel: { stats: { bytes: 64 * 1024 * 1024 } } }, 'slowClient.maxPendingBytes'],
    [{ snapshot: { keys: -1 } }, 'snapshot.keys'],
    [{ slowClient: { softBufferBytes: 600 * 1024 } }, 'slowClient.softBufferBytes'],
    [{ slowClient: { maxPendingBytes: 1024 * 1024 } }, 'slowClient.maxPendingBytes'],
    [{ slowClient: { maxTotalPendingBytes: 1024 * 1024 } }, 'slowClient.maxTotalPendingBytes'],
    [{ slowClient: { maxBehindMs: 1.5 } }, 'slowClient.maxBehindMs'],
    [{ rateLimit: { messagesPerSecond: 0 } }, 'rateLimit.messagesPerSecond'],
    [{ rateLimit: { burst: 0 } }, 'rateLimit.burst'],
  ];
  for (const [options, field] of cases) {
    assert.throws(() => resolvePushSettings({ ...base, ...options }), { name: 'ConfigError', field }, JSON.stringify(options));
  }
});
