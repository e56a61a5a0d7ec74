import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { FileKeyStore } from '../../src/governance/file-key-store.ts';
import { Keyring } from '../../src/governance/keyring.ts';
import { sealedCheckpoints } from '../../src/governance/checkpoint-seal.ts';
import { RedisCheckpointStore } from '../../src/state/redis-checkpoint-store.ts';
import type { PartitionCheckpoint } from '../../src/state/checkpoint-store.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { TributaryError } from '../../src/core/errors.ts';
import { requireService, uniqueName } from '../helpers/services.ts';

test('durable window checkpoints are sealed under data protection: no subject id rests in Redis, and they load back', async (t) => {
  const url = requireService('REDIS_URL');
  const dir = mkdtempSync(path.join(tmpdir(), 'ckpt-keys-'));
  const keyring = await Keyring.open(new FileKeyStore(dir));
  const topology = uniqueName('ckpt');
  const sealed = await RedisCheckpointStore.connect(url, { topology, groupId: 'g', logger: silentLogger, codec: sealedCheckpoints(keyring) });
  const plain = await RedisCheckpointStore.connect(url, { topology, groupId: 'g', logger: silentLogger });
  const redis = new Redis(url);
  t.after(async () => {
    await sealed.close();
    await plain.close();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });
  const checkpoint = (partition: string, offset: string): PartitionCheckpoint => ({
    version: 2, topology, partition, offset, clock: { max: 120_000, watermark: 115_000 },
    steps: new Map([['card-1m', Buffer.from(JSON.stringify({ 'card-canary-7731': { sum: 31337.77 } }))]]), savedAt: 1,
  });

  await sealed.save([checkpoint('payments:0', '42')]);
  const stored = await redis.hgetBuffer(RedisCheckpointStore.keyOf(topology, 'g', 'payments:0'), 'data');
  assert.ok(stored && stored.subarray(0, 4).toString() === 'TRB1', 'sealed');
  assert.ok(!stored.includes('card-canary-7731') && !stored.includes('31337.77'));
  assert.deepEqual(await sealed.load('payments:0'), checkpoint('payments:0', '42'));
  // Without the key, the sealed checkpoint is refused, not misread.
  await assert.rejects(plain.load('payments:0'), (error: TributaryError) => error.code === 'CHECKPOINT_FORMAT');
  // One saved before protection was on still loads; the next save seals it.
  await plain.save([checkpoint('payments:1', '7')]);
  assert.deepEqual(await sealed.load('payments:1'), checkpoint('payments:1', '7'));
});
