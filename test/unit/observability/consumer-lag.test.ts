import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { ConsumerLag } from '../../../src/sources/kafka/consumer-lag.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { ScrapedGauge } from '../../../src/observability/scraped-gauge.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

/** `name{labels} value` lines of one metric, labels as rendered. */
async function series(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(\S+?)(\{.*\})? (\S+)$/.exec(line);
    if (match && match[1] === name) values[match[2] ?? ''] = Number(match[3]);
  }
  return values;
}

test('a scraped gauge asks its reporters on every scrape, and forgets a removed one', async () => {
  const registry = new Registry();
  const gauge = new ScrapedGauge({ name: 'g', help: 'G', labelNames: ['k'], registers: [registry] });
  let value = 1;
  const removeA = gauge.report((g) => g.set({ k: 'a' }, value));
  gauge.report((g) => g.set({ k: 'b' }, 7));
  assert.match(await registry.metrics(), /g\{k="a"\} 1\ng\{k="b"\} 7/);
  value = 2;
  assert.match(await registry.metrics(), /g\{k="a"\} 2\n/);
  removeA();
  const text = await registry.metrics();
  assert.doesNotMatch(text, /k="a"/);
  assert.match(text, /g\{k="b"\} 7/);
});

test('lag is the high watermark minus the next offset handed over, per assigned partition', async () => {
  const metrics = new Metrics();
  const lag = new ConsumerLag(metrics, 'fraud');
  lag.assign(['payments:0', 'payments:1', 'payments:2']);
  lag.handedOver('payments:0', 100n, '250');
  lag.handedOver('payments:1', 40n, '40');
  // Partition 2 has delivered nothing: its lag is unknown, not 0.
  assert.deepEqual(await series(metrics, 'tributary_consumer_lag_records'), {
    '{topology="fraud",topic="payments",partition="0"}': 150,
    '{topology="fraud",topic="payments",partition="1"}': 0,
  });
  assert.deepEqual(await series(metrics, 'tributary_partition_end_offset'), {
    '{topology="fraud",topic="payments",partition="0"}': 250,
    '{topology="fraud",topic="payments",partition="1"}': 40,
  });
  // A later chunk of an older fetch must not lower the high watermark.
  lag.handedOver('payments:0', 200n, '240');
  assert.equal((await series(metrics, 'tributary_consumer_lag_records'))['{topology="fraud",topic="payments",partition="0"}'], 50);

  // Paused while (and only while) the source waits for room.
  lag.waiting = true;
  assert.deepEqual(Object.values(await series(metrics, 'tributary_partition_paused')), [1, 1, 1]);
  lag.waiting = false;
  assert.deepEqual(Object.values(await series(metrics, 'tributary_partition_paused')), [0, 0, 0]);

  // A rebalance takes partitions 1 and 2 away: their series disappear.
  lag.assign(['payments:0']);
  assert.deepEqual(Object.keys(await series(metrics, 'tributary_partition_paused')), ['{topology="fraud",topic="payments",partition="0"}']);
  lag.close();
  assert.deepEqual(await series(metrics, 'tributary_consumer_lag_records'), {});
});

test('polled end offsets raise the high watermark while nothing is fetched; a failing poll is retried', async () => {
  const metrics = new Metrics();
  const lag = new ConsumerLag(metrics, 'fraud');
  lag.assign(['payments:0', 'payments:1']);
  lag.handedOver('payments:0', 10n, '10');
  lag.handedOver('payments:1', 5n, '5');
  let polls = 0;
  lag.pollEndOffsets(
    'payments',
    async () => {
      polls++;
      if (polls === 1) throw new Error('broker unreachable');
      return [
        { partition: 0, high: '1010' },
        { partition: 1, high: '3' }, // behind a fetch already seen: ignored
        { partition: 7, high: '99' }, // not assigned here: ignored
      ];
    },
    10,
    silentLogger,
  );
  const deadline = Date.now() + 5_000;
  while (polls < 2 && Date.now() < deadline) await sleep(10);
  await sleep(5); // the second poll's result is applied
  assert.deepEqual(await series(metrics, 'tributary_consumer_lag_records'), {
    '{topology="fraud",topic="payments",partition="0"}': 1000,
    '{topology="fraud",topic="payments",partition="1"}': 0,
  });
  lag.close();
  assert.deepEqual(await series(metrics, 'tributary_consumer_lag_records'), {}, 'closed: no series');
});

test('after each poll, the partitions with records beyond what the consumer reached are reported behind; skipped markers count as reached, an unknown position does not', async () => {
  const lag = new ConsumerLag(new Metrics(), 'fraud');
  lag.assign(['payments:0', 'payments:1', 'payments:2']);
  lag.handedOver('payments:0', 40n, '40');
  lag.handedOver('payments:1', 40n, '40');
  // Partition 1's fetch went past a transaction marker at offset 40: it reached 41, the end.
  lag.progressed('payments:1', 41n);
  // Partition 2 has fetched nothing since the assignment.
  const ends = [
    [
      { partition: 0, high: '160' },
      { partition: 1, high: '41' },
      { partition: 2, high: '500' },
    ],
    [{ partition: 0, high: '160' }],
  ];
  const reports: string[][] = [];
  let current: string[] = [];
  lag.onBehind((key) => current.push(key));
  let polls = 0;
  lag.pollEndOffsets(
    'payments',
    async () => {
      if (polls > 0) reports.push(current);
      current = [];
      return ends[Math.min(polls++, ends.length - 1)]!;
    },
    10,
    silentLogger,
  );
  const deadline = Date.now() + 5_000;
  while (polls < 2 && Date.now() < deadline) await sleep(10);
  assert.deepEqual(reports[0], ['payments:0']);
  // Partition 0 delivers up to the end: no longer behind.
  lag.handedOver('payments:0', 160n, '160');
  const after = polls + 2;
  while (polls < after && Date.now() < deadline) await sleep(10);
  lag.close();
  assert.deepEqual(reports.at(-1), [], 'nothing behind once partition 0 reached its end');
});

test('while the end offsets cannot be read (a failed poll, or one still waiting for a leader) every partition is reported: none is known to be caught up', async () => {
  const lag = new ConsumerLag(new Metrics(), 'fraud');
  lag.assign(['payments:0', 'payments:1']);
  lag.handedOver('payments:0', 40n, '40');
  lag.handedOver('payments:1', 40n, '40');
  const reported: string[] = [];
  lag.onBehind((key) => reported.push(key));
  let polls = 0;
  let answer: () => void = () => {};
  lag.pollEndOffsets(
    'payments',
    async () => {
      polls++;
      if (polls === 1) throw new Error('broker unreachable');
      // The second poll waits (a leader failing over) until released; later ones answer at once.
      if (polls === 2) await new Promise<void>((resolve) => (answer = resolve));
      return [
        { partition: 0, high: '40' },
        { partition: 1, high: '40' },
      ];
    },
    10,
    silentLogger,
  );
  const deadline = Date.now() + 5_000;
  while (polls < 2 && Date.now() < deadline) await sleep(5);
  await sleep(50); // ticks while the second poll waits
  const whileUnknown = reported.length;
  assert.ok(whileUnknown >= 4, `the failed poll and the waiting one report both partitions (${whileUnknown} reports)`);
  assert.deepEqual(new Set(reported), new Set(['payments:0', 'payments:1']));
  answer();
  await sleep(5);
  reported.length = 0;
  await sleep(50);
  lag.close();
  assert.deepEqual(reported, [], 'caught up at the end: nothing reported');
});
