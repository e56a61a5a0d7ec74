import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPaymentsTopic } from '../helpers/payments-topic.ts';
import { REPO_ROOT, requireService, uniqueName } from '../helpers/services.ts';

const run = promisify(execFile);

test('an idle engine with a ClickHouse server sink and no score step loads neither chDB nor onnxruntime', { timeout: 120_000 }, async () => {
  const brokers = requireService('KAFKA_BROKERS');
  const topic = await createPaymentsTopic(brokers.split(','), { partitions: 3 });
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, IDLE_TOPIC: topic.topic, IDLE_TABLE: uniqueName('idle_payments'), KAFKA_BROKERS: brokers, CLICKHOUSE_URL: requireService('CLICKHOUSE_URL') };
    delete env.REDIS_URL;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/idle-engine.ts'], { cwd: REPO_ROOT, env, timeout: 90_000 });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { chdb: boolean; onnxruntime: boolean; rssMb: number };
    console.log(`# idle engine: ${stdout.trim()}`);
    assert.equal(report.chdb, false, 'chDB (about 150 MB of native code) is not mapped');
    assert.equal(report.onnxruntime, false, 'onnxruntime is not mapped');
  } finally {
    await topic.close();
  }
});
