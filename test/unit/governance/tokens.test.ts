import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileKeyStore } from '../../../src/governance/file-key-store.ts';
import { Keyring } from '../../../src/governance/keyring.ts';
import { tokenize } from '../../../src/governance/tokens.ts';
import { detokenize, detokenizeAll } from '../../../src/governance/detokenize.ts';
import { parseMasterKey } from '../../../src/governance/master-key.ts';
import { TributaryError, ConfigError } from '../../../src/core/errors.ts';
import { storedKeyText } from '../../helpers/key-files.ts';

function tempStore(t: { after: (fn: () => void) => void }): { dir: string; store: FileKeyStore } {
  const dir = mkdtempSync(path.join(tmpdir(), 'keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, store: new FileKeyStore(path.join(dir, 'keys')) };
}

/** The HMAC key as the file store keeps it without a master key ('raw.<base64>'). */
function rawKey(dir: string, id: string): Buffer {
  const text = storedKeyText(path.join(dir, 'keys'), id);
  assert.ok(text.startsWith('raw.'), text.slice(0, 8));
  return Buffer.from(text.slice(4), 'base64');
}

test('pseudonyms are HMAC-SHA256 under the stored key, versioned, stable and idempotent', async (t) => {
  const { dir, store } = tempStore(t);
  const keyring = await Keyring.open(store);
  const hmacKey = rawKey(dir, 'hmac.1');
  // Computed here with node:crypto directly: the first 16 bytes, base64url, after "h1_".
  const expected = `h1_${createHmac('sha256', hmacKey).update('card-00042').digest().subarray(0, 16).toString('base64url')}`;
  assert.equal(keyring.pseudonyms.hash('card-00042'), expected);
  assert.equal(keyring.pseudonyms.hash('card-00042'), expected, 'stable');
  assert.equal(keyring.pseudonyms.hash(expected), expected, 'a pseudonym is not hashed again (rows read back from a protected table)');
  assert.match(expected, /^h1_[A-Za-z0-9_-]{22}$/);
  assert.notEqual(keyring.pseudonyms.hash('card-00043'), expected);
  assert.equal(keyring.pseudonyms.hash(42), `h1_${createHmac('sha256', hmacKey).update('42').digest().subarray(0, 16).toString('base64url')}`);
  // A second keyring on the same store reads the same key: the same pseudonyms.
  assert.equal((await Keyring.open(store)).pseudonyms.hash('card-00042'), expected);
});

test('tokens round-trip through detokenize and decrypt independently with AES-256-GCM', async (t) => {
  const { dir, store } = tempStore(t);
  const keyring = await Keyring.open(store);
  const subject = keyring.subjectOf('card-7');
  const keys = await keyring.loadKeys(new Set([subject]));
  const token = tokenize(1234.56, subject, keys.get(subject)!);
  assert.match(token, new RegExp(`^tok1\\.${subject}\\.[A-Za-z0-9_-]+$`));
  assert.equal(await detokenize(token, store), 1234.56);
  assert.deepEqual(await detokenizeAll([tokenize('x', subject, keys.get(subject)!), token], store), ['x', 1234.56]);
  // The same value twice gives two tokens (random IV): equal tokens reveal nothing.
  assert.notEqual(tokenize(1234.56, subject, keys.get(subject)!), token);
  // Independently: iv (12) ‖ tag (16) ‖ ciphertext, the token's prefix as associated data.
  const sealed = Buffer.from(token.split('.')[2]!, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', rawKey(dir, `subject.${subject}`), sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(`tok1.${subject}`));
  decipher.setAuthTag(sealed.subarray(12, 28));
  assert.equal(Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString(), '1234.56');
});

test('a changed token, or one moved to another subject, is rejected (GOVERNANCE_TAMPERED)', async (t) => {
  const { store } = tempStore(t);
  const keyring = await Keyring.open(store);
  const [a, b] = [keyring.subjectOf('card-a'), keyring.subjectOf('card-b')];
  const keys = await keyring.loadKeys(new Set([a, b]));
  const token = tokenize('secret value', a, keys.get(a)!);
  const body = token.split('.')[2]!;
  for (const position of [0, 13, 20, body.length - 2]) {
    const flipped = body.slice(0, position) + (body[position] === 'A' ? 'B' : 'A') + body.slice(position + 1);
    await assert.rejects(detokenize(`tok1.${a}.${flipped}`, store), (error: TributaryError) => error.code === 'GOVERNANCE_TAMPERED', `byte at ${position}`);
  }
  await assert.rejects(detokenize(`tok1.${b}.${body}`, store), (error: TributaryError) => error.code === 'GOVERNANCE_TAMPERED');
  await assert.rejects(detokenize('card-a', store), (error: TributaryError) => error.code === 'GOVERNANCE_TAMPERED');
});

test('after the subject key is destroyed its tokens fail with GOVERNANCE_ERASED; other subjects still read', async (t) => {
  const { store } = tempStore(t);
  const keyring = await Keyring.open(store);
  const [a, b] = [keyring.subjectOf('card-a'), keyring.subjectOf('card-b')];
  const keys = await keyring.loadKeys(new Set([a, b]));
  const tokenA = tokenize(10, a, keys.get(a)!);
  const tokenB = tokenize(20, b, keys.get(b)!);
  assert.equal(await keyring.destroyKey(a), true);
  assert.equal(await keyring.destroyKey(a), false, 'already gone');
  await assert.rejects(detokenize(tokenA, store), (error: TributaryError) => error.code === 'GOVERNANCE_ERASED');
  assert.equal(await detokenize(tokenB, store), 20);
  // A new key for the subject's new data: old tokens stay unreadable under it.
  const renewed = await keyring.loadKeys(new Set([a]));
  assert.notDeepEqual(renewed.get(a), keys.get(a));
  await assert.rejects(detokenize(tokenA, store), (error: TributaryError) => error.code === 'GOVERNANCE_TAMPERED');
});

test('with a master key the store holds no key in clear, and reading it needs that master key', async (t) => {
  const { dir, store } = tempStore(t);
  const masterKey = parseMasterKey('11'.repeat(32));
  const keyring = await Keyring.open(store, { masterKey });
  const subject = keyring.subjectOf('card-m');
  const keys = await keyring.loadKeys(new Set([subject]));
  const token = tokenize('wrapped', subject, keys.get(subject)!);
  for (const file of readdirSync(path.join(dir, 'keys'))) {
    const text = storedKeyText(path.join(dir, 'keys'), file.replace(/\.key$/, ''));
    assert.ok(text.startsWith('wrap1.'), `${file}: ${text.slice(0, 6)}`);
  }
  assert.ok(!readFileSync(path.join(dir, 'keys', `subject.${subject}.key`)).includes(keys.get(subject)!.toString('base64')));
  assert.equal(await detokenize(token, store, { masterKey }), 'wrapped');
  await assert.rejects(detokenize(token, store), (error: ConfigError) => error instanceof ConfigError && error.field === 'TRIBUTARY_GOVERNANCE_MASTER_KEY');
  await assert.rejects(detokenize(token, store, { masterKey: parseMasterKey('22'.repeat(32)) }), (error: TributaryError) => error.code === 'GOVERNANCE_TAMPERED');
  assert.throws(() => parseMasterKey('too short'), (error: ConfigError) => error.field === 'TRIBUTARY_GOVERNANCE_MASTER_KEY' && !error.message.includes('too short'));
  assert.equal(parseMasterKey(Buffer.alloc(32, 7).toString('base64')).length, 32);
});

test('the file key store: first writer wins, deletes report what existed, ids are checked', async (t) => {
  const { dir, store } = tempStore(t);
  assert.deepEqual(await store.putIfAbsent(new Map([['subject.x', 'first']])), new Map([['subject.x', 'first']]));
  assert.deepEqual(await store.putIfAbsent(new Map([['subject.x', 'second'], ['subject.y', 'other']])), new Map([['subject.x', 'first'], ['subject.y', 'other']]));
  assert.deepEqual(await store.get(['subject.x', 'subject.none']), new Map([['subject.x', 'first']]));
  assert.equal(await store.delete('subject.x'), true);
  assert.equal(await store.delete('subject.x'), false);
  assert.deepEqual([...(await store.get(['subject.x', 'subject.y'])).keys()], ['subject.y']);
  assert.deepEqual(readdirSync(path.join(dir, 'keys')).sort(), ['subject.y.key'], 'no temporary file left behind');
  await assert.rejects(store.get(['../escape']), (error: TributaryError) => error.code === 'GOVERNANCE_KEY_ID');
});
