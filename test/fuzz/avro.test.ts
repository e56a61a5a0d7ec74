import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { DEFAULT_SCHEMA_DIRS, runAvroFuzz } from '../../scripts/fuzz/avro-target.ts';
import { FUZZ_SEEDS } from './seeds.ts';

/*
 * The short version of `npm run fuzz` for Avro: random and mutated payloads through the decoders
 * the Kafka source builds, in a child process capped at 256 MiB of V8 heap. Each one must decode
 * to a value valid for its schema or throw DecodeError; a process death counts as a crash.
 */

const CASES = 10_000;
const HEAP_CAP_MIB = 256;
// One Confluent decoder per schema directory and one bare decoder per .avsc file.
const DECODERS = DEFAULT_SCHEMA_DIRS.reduce((sum, dir) => sum + 1 + readdirSync(dir).filter((name) => name.endsWith('.avsc')).length, 0);

for (const seed of FUZZ_SEEDS) {
  test(`Avro: ${CASES.toLocaleString('en-US')} random and mutated payloads decode or throw DecodeError under a ${HEAP_CAP_MIB} MiB heap cap (seed ${seed})`, async () => {
    const result = await runAvroFuzz({ cases: CASES, seed, heapMiB: HEAP_CAP_MIB, chunkSize: 5_000 });
    assert.deepEqual(result.failures, []);
    assert.equal(result.crashes, 0);
    assert.equal(result.cases, CASES);
    assert.equal(Object.values(result.outcomes).reduce((a, b) => a + b, 0), CASES);
    // The inputs reach every decoder and every kind of rejection, and some decode: the generator has not degenerated.
    assert.equal(Object.keys(result.details.perTarget as object).length, DECODERS);
    for (const outcome of ['decoded', 'DecodeError MALFORMED', 'DecodeError BLOCK_COUNT', 'DecodeError TRAILING_BYTES', 'DecodeError UNKNOWN_SCHEMA_ID', 'DecodeError BAD_MAGIC_BYTE', 'DecodeError EMPTY']) {
      assert.ok((result.outcomes[outcome] ?? 0) > 0, `no "${outcome}" in ${JSON.stringify(result.outcomes)}`);
    }
    // The cap was in force (V8 adds the young generation to it) and the heap stayed under it.
    assert.ok(result.memory.heapLimitMiB! > HEAP_CAP_MIB && result.memory.heapLimitMiB! < HEAP_CAP_MIB * 1.5, `heap limit ${result.memory.heapLimitMiB} MiB`);
    assert.ok(result.memory.heapPeakMiB < HEAP_CAP_MIB, `heap peaked at ${result.memory.heapPeakMiB} MiB`);
  });
}

test('a decoding process that dies (here: out of memory at a 16 MiB cap) counts as a crash, with the reason', async () => {
  const result = await runAvroFuzz({ cases: 1_000, seed: FUZZ_SEEDS[0], heapMiB: 16, chunkSize: 1_000 });
  assert.equal(result.crashes, 1);
  assert.deepEqual(Object.keys(result.outcomes), ['crash: process died']);
  assert.match(result.failures[0]!, /^crash: process died in chunk 0 of seed \d+ \(signal SIGABRT; stderr: FATAL ERROR: .*heap/);
});
