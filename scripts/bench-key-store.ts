/**
 * What creating subject keys costs per batch: Keyring.loadKeys on batches of new subjects (the
 * first bursts of a demo, where every card is new), against a FileKeyStore in a temporary
 * directory (the demo's store), then the same subjects again from memory.
 *   node --import tsx scripts/bench-key-store.ts [--batch 1000] [--batches 5] [--master]
 * Reports ms per batch and us per new key (median of the batches, each a fresh set of subjects).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { FileKeyStore } from '../src/governance/file-key-store.ts';
import { Keyring } from '../src/governance/keyring.ts';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '1000' }, batches: { type: 'string', default: '5' }, master: { type: 'boolean', default: false } } });
const BATCH = Number(values.batch);
const BATCHES = Number(values.batches);

const dir = mkdtempSync(path.join(tmpdir(), 'bench-key-store-'));
const keyring = await Keyring.open(new FileKeyStore(dir), values.master ? { masterKey: randomBytes(32) } : {});
const created: number[] = [];
const cached: number[] = [];
for (let b = 0; b < BATCHES; b++) {
  const subjects = new Set(Array.from({ length: BATCH }, (_, i) => keyring.subjectOf(`card-${b}-${i}`)));
  let started = performance.now();
  await keyring.loadKeys(subjects);
  created.push(performance.now() - started);
  started = performance.now();
  await keyring.loadKeys(subjects);
  cached.push(performance.now() - started);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const files = readdirSync(dir).length;
console.log(`batch of ${BATCH} new subjects${values.master ? ' (master key)' : ''}: ${median(created).toFixed(1)} ms/batch (${((median(created) * 1000) / BATCH).toFixed(1)} us/key; batches ${created.map((x) => x.toFixed(0)).join(', ')} ms)`);
console.log(`same subjects again (in memory): ${median(cached).toFixed(2)} ms/batch`);
console.log(`entries in the store directory: ${files}`);
rmSync(dir, { recursive: true, force: true });
