import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileKeyStore } from '../../../src/governance/file-key-store.ts';
import { Keyring } from '../../../src/governance/keyring.ts';
import type { KeyStore } from '../../../src/governance/key-store.ts';
import { storedKeyText } from '../../helpers/key-files.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'file-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'keys');
}

const VALUE = (n: number) => `raw.${String(n).padStart(44, 'A')}`;

test('a batch of new keys is one file with one name per key; deleting one destroys its bytes and leaves the others readable', async (t) => {
  const dir = tempDir(t);
  const store = new FileKeyStore(dir);
  const ids = Array.from({ length: 50 }, (_, i) => `subject.s${i}`);
  const stored = await store.putIfAbsent(new Map(ids.map((id, i) => [id, VALUE(i)])));
  assert.deepEqual([...stored], ids.map((id, i) => [id, VALUE(i)]));
  assert.deepEqual(readdirSync(dir).sort(), ids.map((id) => `${id}.key`).sort(), 'one name per key, no temporary file left');
  const inodes = new Set(ids.map((id) => statSync(path.join(dir, `${id}.key`)).ino));
  assert.equal(inodes.size, 1, 'all names link to one file');
  assert.equal(statSync(path.join(dir, 'subject.s0.key')).nlink, 50);
  assert.equal(statSync(path.join(dir, 'subject.s0.key')).mode & 0o777, 0o600);
  for (const [i, id] of ids.entries()) assert.equal(storedKeyText(dir, id), VALUE(i));

  assert.equal(await store.delete('subject.s7'), true);
  assert.equal(await store.delete('subject.s7'), false);
  assert.ok(!readFileSync(path.join(dir, 'subject.s8.key'), 'utf8').includes(VALUE(7)), "the deleted key's bytes are gone from the shared file");
  const read = await store.get(ids);
  assert.equal(read.size, 49);
  assert.equal(read.has('subject.s7'), false);
  assert.equal(read.get('subject.s8'), VALUE(8));
  // A new key for the deleted id: its own batch, the old value not back.
  assert.deepEqual(await store.putIfAbsent(new Map([['subject.s7', 'raw.renewed']])), new Map([['subject.s7', 'raw.renewed']]));
  assert.equal((await store.get(['subject.s7'])).get('subject.s7'), 'raw.renewed');
});

test('first writer wins per key across stores on one directory; the loser keeps no copy of its unused keys', async (t) => {
  const dir = tempDir(t);
  const [a, b] = [new FileKeyStore(dir), new FileKeyStore(dir)];
  await a.putIfAbsent(new Map([['subject.x', 'raw.first-x']]));
  const second = await b.putIfAbsent(new Map([['subject.x', 'raw.second-x'], ['subject.y', 'raw.second-y']]));
  assert.deepEqual([...second], [['subject.x', 'raw.first-x'], ['subject.y', 'raw.second-y']]);
  for (const file of readdirSync(dir)) assert.ok(!readFileSync(path.join(dir, file), 'utf8').includes('raw.second-x'), `${file} holds the unused key`);
  // Racing writers: every id ends with exactly one value, the same for both.
  const ids = Array.from({ length: 40 }, (_, i) => `subject.r${i}`);
  const [fromA, fromB] = await Promise.all([a.putIfAbsent(new Map(ids.map((id) => [id, `raw.a-${id}`]))), b.putIfAbsent(new Map(ids.map((id) => [id, `raw.b-${id}`])))]);
  assert.deepEqual([...fromA], [...fromB]);
  assert.deepEqual([...(await a.get(ids))], [...fromA]);
});

test('a key file of one key holding just its value (written before batches) is still read and deleted', async (t) => {
  const dir = tempDir(t);
  const store = new FileKeyStore(dir);
  await store.get([]);
  writeFileSync(path.join(dir, 'subject.old.key'), 'raw.legacy', { mode: 0o600 });
  assert.deepEqual([...(await store.get(['subject.old', 'subject.none']))], [['subject.old', 'raw.legacy']]);
  assert.deepEqual([...(await store.putIfAbsent(new Map([['subject.old', 'raw.new']])))], [['subject.old', 'raw.legacy']]);
  assert.equal(await store.delete('subject.old'), true);
  assert.deepEqual(readdirSync(dir), []);
});

/** Counts putIfAbsent calls and the ids they carried. */
class CountingStore implements KeyStore {
  readonly description: string;
  puts: string[][] = [];
  constructor(private readonly inner: KeyStore) {
    this.description = inner.description;
  }
  get(ids: readonly string[]) {
    return this.inner.get(ids);
  }
  putIfAbsent(entries: ReadonlyMap<string, string>) {
    this.puts.push([...entries.keys()]);
    return this.inner.putIfAbsent(entries);
  }
  delete(id: string) {
    return this.inner.delete(id);
  }
  close() {
    return this.inner.close();
  }
}

test('sinks asking for the same new subjects at once share one key-store round trip and get the same keys', async (t) => {
  const store = new CountingStore(new FileKeyStore(tempDir(t)));
  const keyring = await Keyring.open(store);
  store.puts = [];
  const subjects = Array.from({ length: 30 }, (_, i) => keyring.subjectOf(`card-${i}`));
  const first = new Set(subjects.slice(0, 20));
  const second = new Set(subjects.slice(10));
  const [a, b, c] = await Promise.all([keyring.loadKeys(first), keyring.loadKeys(first), keyring.loadKeys(second)]);
  assert.deepEqual(store.puts.map((ids) => ids.length).sort((x, y) => x - y), [10, 20], 'the shared ten are created once');
  assert.equal(new Set(store.puts.flat()).size, 30);
  for (const subject of first) assert.deepEqual(a.get(subject), b.get(subject));
  for (const subject of subjects.slice(10, 20)) assert.deepEqual(a.get(subject), c.get(subject));
  assert.equal(c.size, 20);
  // A subject erased while its key was being loaded is not kept in memory: the next load reads the store.
  const late = keyring.subjectOf('card-late');
  const loading = keyring.loadKeys(new Set([late]));
  await keyring.destroyKey(late);
  await loading;
  assert.equal(keyring.cachedKeys(new Set([late])), undefined);
});
