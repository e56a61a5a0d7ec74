import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisKeyStore } from '../../src/governance/redis-key-store.ts';
import { Keyring } from '../../src/governance/keyring.ts';
import { parseMasterKey } from '../../src/governance/master-key.ts';
import { tokenize } from '../../src/governance/tokens.ts';
import { detokenize } from '../../src/governance/detokenize.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { requireService, uniqueName } from '../helpers/services.ts';

test('the Redis key store: keys under their own prefix, first writer wins between engines, deletes destroy', async (t) => {
  const url = requireService('REDIS_URL');
  const prefix = `${uniqueName('tkeys')}:`;
  const [a, b] = await Promise.all([RedisKeyStore.connect(url, { prefix, logger: silentLogger }), RedisKeyStore.connect(url, { prefix, logger: silentLogger })]);
  const redis = new Redis(url);
  t.after(async () => {
    await a.close();
    await b.close();
    redis.disconnect();
  });
  assert.equal(a.description, `Redis keys ${prefix}*`);
  const [first, second] = await Promise.all([a.putIfAbsent(new Map([['subject.s1', 'from-a']])), b.putIfAbsent(new Map([['subject.s1', 'from-b'], ['subject.s2', 'two']]))]);
  assert.equal(first.get('subject.s1'), second.get('subject.s1'), 'both writers see one value');
  assert.equal(await redis.get(`${prefix}subject.s1`), first.get('subject.s1'));
  assert.deepEqual(await a.get(['subject.s2', 'subject.none']), new Map([['subject.s2', 'two']]));
  assert.equal(await b.delete('subject.s1'), true);
  assert.equal(await a.delete('subject.s1'), false);
  assert.equal(await redis.exists(`${prefix}subject.s1`), 0);

  // Two engines on one store with one master key: the same pseudonyms and subject keys, nothing in clear.
  const masterKey = parseMasterKey('ab'.repeat(32));
  const [one, two] = await Promise.all([Keyring.open(a, { masterKey }), Keyring.open(b, { masterKey })]);
  assert.equal(one.subjectOf('card-1'), two.subjectOf('card-1'));
  const subject = one.subjectOf('card-1');
  const [keysOne, keysTwo] = await Promise.all([one.loadKeys(new Set([subject])), two.loadKeys(new Set([subject]))]);
  assert.deepEqual(keysOne.get(subject), keysTwo.get(subject));
  const stored = await redis.get(`${prefix}subject.${subject}`);
  assert.match(stored!, /^wrap1\./);
  assert.equal(await detokenize(tokenize('v', subject, keysOne.get(subject)!), b, { masterKey }), 'v');
});
