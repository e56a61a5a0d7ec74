import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../../src/observability/metrics.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { BatchingSink } from '../../../src/sinks/batching-sink.ts';

interface Row {
  eventTime: number;
}

/** Acknowledges each chunk once `release()` is called. */
class GatedSink extends BatchingSink<Row> {
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => {};

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate();
  }

  protected async writeRows(): Promise<void> {
    await this.gate;
  }
}

async function text(metrics: Metrics, name: string): Promise<string> {
  return `${await metrics.registry.getSingleMetricAsString(name)}\n`;
}

test('a sink reports its batch sizes, held rows and per-row end-to-end latency', async () => {
  const metrics = new Metrics();
  const sink = new GatedSink({ name: 'clickhouse:t', topology: 'fraud', logger: silentLogger, metrics, maxRows: 3, maxDelayMs: 60_000, eventTimeOf: (row) => row.eventTime });
  const labels = 'topology="fraud",sink="clickhouse:t"';
  sink.hold();
  const now = Date.now();
  // 3 rows: a full chunk goes out and waits; 2 more stay buffered.
  sink.write([{ eventTime: now - 30_000 }, { eventTime: now - 30_000 }, { eventTime: now - 200 }], []);
  sink.write([{ eventTime: now - 30_000 }, { eventTime: now + 60_000 }], []);
  assert.match(await text(metrics, 'tributary_sink_buffered_rows'), new RegExp(`tributary_sink_buffered_rows\\{${labels}\\} 5\\n`));
  sink.release();
  await sink.flush();
  assert.match(await text(metrics, 'tributary_sink_buffered_rows'), new RegExp(`tributary_sink_buffered_rows\\{${labels}\\} 0\\n`));

  const batches = await text(metrics, 'tributary_sink_batch_rows');
  assert.match(batches, new RegExp(`tributary_sink_batch_rows_count\\{${labels}\\} 2\\n`));
  assert.match(batches, new RegExp(`tributary_sink_batch_rows_sum\\{${labels}\\} 5\\n`));
  assert.match(await text(metrics, 'tributary_sink_rows_total'), new RegExp(`tributary_sink_rows_total\\{${labels}\\} 5\\n`));

  // Every row observed once: 3 of them 30 s old (in the 30 s bucket), one 0.2 s old, one in the future (0).
  const latency = await text(metrics, 'tributary_end_to_end_latency_seconds');
  assert.match(latency, new RegExp(`tributary_end_to_end_latency_seconds_count\\{${labels}\\} 5\\n`));
  assert.match(latency, new RegExp(`tributary_end_to_end_latency_seconds_bucket\\{le="0.01",${labels}\\} 1\\n`));
  assert.match(latency, new RegExp(`tributary_end_to_end_latency_seconds_bucket\\{le="20",${labels}\\} 2\\n`));
  assert.match(latency, new RegExp(`tributary_end_to_end_latency_seconds_bucket\\{le="60",${labels}\\} 5\\n`));

  // A closed sink stops reporting what it holds.
  await sink.close();
  assert.doesNotMatch(await text(metrics, 'tributary_sink_buffered_rows'), /clickhouse:t/);
});

test('without eventTimeOf no latency series is created', async () => {
  const metrics = new Metrics();
  const sink = new GatedSink({ name: 'plain', topology: 'fraud', logger: silentLogger, metrics, maxRows: 1 });
  sink.write([{ eventTime: 0 }], []);
  await sink.flush();
  assert.doesNotMatch(await text(metrics, 'tributary_end_to_end_latency_seconds'), /plain/);
  assert.match(await text(metrics, 'tributary_sink_batch_rows'), /tributary_sink_batch_rows_count\{topology="fraud",sink="plain"\} 1\n/);
});
