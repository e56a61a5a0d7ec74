import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalJson } from '../../../src/audit/canonical-json.ts';
import { AuditLog } from '../../../src/audit/audit-log.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const ZEROS = '0'.repeat(64);

test('canonical JSON: sorted keys at every depth, no whitespace, undefined members left out', () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, { z: 'x', y: undefined, c: 0.1 }], A: 'é"\n' }), '{"A":"é\\"\\n","a":[true,null,{"c":0.1,"z":"x"}],"b":1}');
  assert.equal(canonicalJson({ n: 1e21, m: -0, f: 5e-7 }), '{"f":5e-7,"m":0,"n":1e+21}');
  assert.throws(() => canonicalJson({ x: Number.NaN }), TypeError);
});

test('each entry hashes its canonical form without `hash`; prev is the hash of the entry before', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-hash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  const log = new AuditLog({ file, logger: silentLogger, now: () => 1_700_000_000_000 });
  await log.record({ action: 'model.promote', principal: 'cli:ana', target: 'fraud-lr@81efaef5fd76', outcome: 'ok', before: { '81efaef5fd76': 'candidate' }, after: { '81efaef5fd76': 'live' } });
  await log.record({ action: 'ws.auth', principal: 'anonymous', outcome: 'refused', reason: 'bad_signature', details: { remoteAddress: '10.0.0.7', token: 'eyJ-not-kept' } });
  await log.close();

  // Written out by hand: the canonical body of each entry, then its hash over exactly those bytes.
  const body1 = '{"action":"model.promote","after":{"81efaef5fd76":"live"},"before":{"81efaef5fd76":"candidate"},"outcome":"ok","prev":"' + ZEROS + '","principal":"cli:ana","seq":1,"target":"fraud-lr@81efaef5fd76","time":1700000000000}';
  const hash1 = sha256(body1);
  const body2 = '{"action":"ws.auth","details":{"remoteAddress":"10.0.0.7","token":"[redacted]"},"outcome":"refused","prev":"' + hash1 + '","principal":"anonymous","reason":"bad_signature","seq":2,"time":1700000000000}';
  const hash2 = sha256(body2);
  const line1 = body1.replace('"outcome":"ok",', `"hash":"${hash1}","outcome":"ok",`);
  const line2 = body2.replace('"outcome":"refused",', `"hash":"${hash2}","outcome":"refused",`);
  assert.equal(await readFile(file, 'utf8'), `${line1}\n${line2}\n`);
});

test('a torn last line (a writer died mid-append) is cut off and the chain goes on from the entry before it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-torn-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  const first = new AuditLog({ file, logger: silentLogger });
  await first.record({ action: 'engine.start', principal: 'cli:ana', outcome: 'ok' });
  await first.close();
  const intact = await readFile(file, 'utf8');
  await writeFile(file, intact + '{"action":"engine.st', { flag: 'w' });
  const second = new AuditLog({ file, logger: silentLogger });
  await second.record({ action: 'engine.stop', principal: 'cli:ana', outcome: 'ok' });
  await second.close();
  const lines = (await readFile(file, 'utf8')).split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[0] + '\n', intact);
  const entry = JSON.parse(lines[1]!) as { seq: number; prev: string; action: string };
  assert.deepEqual([entry.seq, entry.prev, entry.action], [2, (JSON.parse(lines[0]!) as { hash: string }).hash, 'engine.stop']);
});

test('a last line that is not an entry stops appends with a message naming the file and the fix', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'audit-bad-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.jsonl');
  await writeFile(file, 'not an entry\n');
  const log = new AuditLog({ file, logger: silentLogger });
  await assert.rejects(log.record({ action: 'engine.start', principal: 'x', outcome: 'ok' }), (error: Error) => error.message.includes(file) && error.message.includes('Fix: run `tributary audit verify'));
  await assert.rejects(log.record({ action: 'Bad Action', principal: 'x', outcome: 'ok' }), /is not 'area.verb'/);
  await log.close();
  assert.equal(await readFile(file, 'utf8'), 'not an entry\n');
});
