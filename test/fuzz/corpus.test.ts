import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { signPushToken } from '../../src/push/push-token.ts';
import { avroFuzzSetup, classify } from '../../scripts/fuzz/avro-cases.ts';
import { DEFAULT_SCHEMA_DIRS } from '../../scripts/fuzz/avro-target.ts';
import { GRANTED } from '../../scripts/fuzz/frame-cases.ts';
import { FUZZ_SECRET, FuzzServer } from '../../scripts/fuzz/fuzz-server.ts';
import { FuzzSocket } from '../../scripts/fuzz/fuzz-socket.ts';
import { postSql, tryUpgrade } from '../../scripts/fuzz/upgrade-probe.ts';

/*
 * Replays test/fuzz/corpus: inputs the fuzzer found (each regression of a bug it found is marked
 * "found by fuzzing") and boundary cases, each with the one outcome it must have.
 */

const corpus = <T>(name: string): T => JSON.parse(readFileSync(new URL(`corpus/${name}`, import.meta.url), 'utf8')) as T;

interface AvroEntry { why: string; target: string; hex: string; expect: string }
interface FrameEntry { why: string; text?: string; hex?: string; padTo?: number; binary?: boolean; expect: string[] }
interface TokenEntries { websocket: Array<{ why: string; token: string; expect: string }>; sql: Array<{ why: string; header: string; expect: string }> }

test('Avro corpus: each payload decodes or is rejected exactly as recorded', () => {
  const { targets } = avroFuzzSetup(DEFAULT_SCHEMA_DIRS);
  const entries = corpus<AvroEntry[]>('avro.json');
  assert.ok(entries.length >= 10);
  for (const entry of entries) {
    const target = targets.find((t) => t.label === entry.target);
    assert.ok(target !== undefined, `no decoder ${entry.target}`);
    assert.equal(classify(target, Buffer.from(entry.hex, 'hex')).outcome, entry.expect, entry.why);
  }
});

let server: FuzzServer;
before(async () => {
  server = await FuzzServer.start();
});
after(async () => {
  const report = await server.report();
  await server.close();
  assert.deepEqual([report.uncaught, report.warnings], [[], []]);
});

test('frame corpus: each frame is answered exactly as recorded', async () => {
  const token = await signPushToken(FUZZ_SECRET, { channels: GRANTED, expiresInSeconds: 600 });
  const entries = corpus<FrameEntry[]>('frames.json');
  assert.ok(entries.length >= 10);
  for (const entry of entries) {
    const data = entry.hex !== undefined ? Buffer.from(entry.hex, 'hex') : entry.text!.padEnd(entry.padTo ?? 0, ' ');
    // A fresh connection per frame; one dropped at connect by uWS (FuzzSocket.droppedAtConnect) is tried again.
    let outcome = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const socket = await FuzzSocket.open(server.wsUrl(token));
      socket.send({ data, binary: entry.binary === true });
      outcome = await socket.nextAnswer();
      await socket.close();
      if (!socket.droppedAtConnect(outcome) || entry.expect.includes(outcome)) break;
    }
    assert.ok(entry.expect.includes(outcome), `${entry.why}: answered ${outcome}, expected ${entry.expect.join(' or ')}`);
  }
});

test('token corpus: mutated tokens and bearer headers are refused as recorded, the valid ones let in', async () => {
  const { websocket, sql } = corpus<TokenEntries>('tokens.json');
  assert.ok(websocket.some((entry) => entry.expect === 'accepted') && websocket.some((entry) => /found by fuzzing/.test(entry.why)));
  for (const entry of websocket) assert.equal(await tryUpgrade(server.wsUrl(), entry.token), entry.expect, entry.why);
  for (const entry of sql) assert.equal(await postSql(server.port, entry.header), entry.expect, entry.why);
});
