import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileKeyStore } from '../../../src/governance/file-key-store.ts';
import { Keyring } from '../../../src/governance/keyring.ts';
import { tokenize } from '../../../src/governance/tokens.ts';
import { detokenizeResultText } from '../../../src/governance/detokenize-result.ts';

async function keyringWithTokens(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyring = await Keyring.open(new FileKeyStore(path.join(dir, 'keys')));
  const [a, b] = [keyring.subjectOf('card-a'), keyring.subjectOf('card-b')];
  const keys = await keyring.loadKeys(new Set([a, b]));
  return { keyring, a, b, token: (value: unknown, subject: string) => tokenize(value, subject, keys.get(subject)!) };
}

test('JSON and JSONEachRow answers: token values become their clear JSON, every other byte stays', async (t) => {
  const { keyring, a, b, token } = await keyringWithTokens(t);
  const [idA, amountA, idB] = [token('card-a', a), token(31337.77, a), token('card "b"', b)];
  // Column names and Map keys are never replaced; a wide number keeps its exact digits.
  const json = `{\n\t"meta": [{"name": "id", "type": "String"}],\n\t"data": [{"id": "${idA}", "amount": "${amountA}", "wide": 123456789012345678901234567890, "m": {"${idB}": "${idB}"}, "text": "x\\"${idA}"}],\n\t"rows": 1\n}\n`;
  const opened = await detokenizeResultText(json, keyring);
  assert.deepEqual(opened.counts, { opened: 3, erased: 0, unreadable: 0 });
  assert.equal(opened.text, `{\n\t"meta": [{"name": "id", "type": "String"}],\n\t"data": [{"id": "card-a", "amount": 31337.77, "wide": 123456789012345678901234567890, "m": {"${idB}": "card \\"b\\""}, "text": "x\\"${idA}"}],\n\t"rows": 1\n}\n`);
  const rows = `{"id":"${idB}","n":1}\n{"id":"plain","n":2}\n`;
  assert.deepEqual(await detokenizeResultText(rows, keyring), { text: '{"id":"card \\"b\\"","n":1}\n{"id":"plain","n":2}\n', counts: { opened: 1, erased: 0, unreadable: 0 } });
});

test('an erased subject\'s tokens stay tokens and are counted; a changed token is counted unreadable', async (t) => {
  const { keyring, a, b, token } = await keyringWithTokens(t);
  const [idA, idB] = [token('card-a', a), token('card-b', b)];
  assert.equal(await keyring.destroyKey(a), true);
  // b's pseudonym in front of a's sealed bytes: the associated data no longer matches.
  const moved = `tok1.${b}.${idA.split('.')[2]}`;
  const text = `{"x":"${idA}","y":"${idB}","z":"${moved}","w":"tok1.not-a-token"}\n`;
  const opened = await detokenizeResultText(text, keyring);
  assert.deepEqual(opened.counts, { opened: 1, erased: 1, unreadable: 1 });
  assert.equal(opened.text, `{"x":"${idA}","y":"card-b","z":"${moved}","w":"tok1.not-a-token"}\n`);
  assert.deepEqual(await detokenizeResultText('{"rows":0}', keyring), { text: '{"rows":0}', counts: { opened: 0, erased: 0, unreadable: 0 } });
});
