import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRows, readAll, runKilledTwice } from '../helpers/kafka-sink-run.ts';

test('kafka topic sink, exactly-once: predictions in Kafka transactions with the source offsets; the engine SIGKILLed twice mid-stream; a read_committed consumer sees exactly one record per closed window, equal to the ClickHouse row', { timeout: 600_000 }, async (t) => {
  const { records, reference, rows, brokers, predictionsTopic } = await runKilledTwice(t, { exactlyOnce: true, isolation: 'read_committed' });
  const byWindow = matchRows(records, rows, reference);
  const duplicated = [...byWindow.values()].filter((copies) => copies.length > 1).length;
  // What the kills left in aborted transactions (0 when neither kill hit an open transaction).
  const uncommitted = (await readAll(brokers, predictionsTopic, 'read_uncommitted')).length;
  console.log(`[kafka-sink] exactly-once after two SIGKILLs: ${records.length} records for ${reference.length} windows, ${duplicated} windows duplicated; read_uncommitted sees ${uncommitted} (${uncommitted - records.length} in aborted transactions)`);
  assert.equal(duplicated, 0, 'no window twice');
  assert.equal(records.length, reference.length, 'exactly one record per closed window');
});
