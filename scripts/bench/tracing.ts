/**
 * Tracing overhead on Kafka: one fresh topic whose every record carries a sampled W3C
 * traceparent (a traced producer), drained by the full card-fraud topology with tracing off and
 * with tracing on at `ratio` (spans exported over OTLP/protobuf to a local listener that accepts
 * and counts them), alternately, `repeat` times each. Reported per mode: the run of median process
 * CPU time, with CPU microseconds per event (less sensitive than wall time to other load on the
 * machine) and every run's wall and CPU seconds.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../src/observability/logger.ts';
import { createAvroEncoder } from '../../src/serde/avro.ts';
import { LocalSchemaRegistry } from '../../src/serde/schema-registry.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import type { Payment } from '../../src/sources/generator/card-payments.ts';
import { log, paymentStream, SCHEMAS_DIR, type BenchOptions, type BenchResult } from './common.ts';
import { cleanUp, engineDrain, type Services } from './kafka.ts';

export async function benchTracing(options: BenchOptions & { keep: boolean; traceRatio: number }, services: Services, logger: Logger): Promise<BenchResult[]> {
  const n = options.events;
  const brokers = services.kafkaBrokers.split(',');
  const topic = `bench_traced_${randomBytes(5).toString('hex')}`;
  const collector = await startSpanSink();
  const client = createKafkajsClient({ brokers, clientId: 'tributary-bench-tracing', logger });
  const admin = client.admin();
  const producer = client.producer();
  await admin.connect();
  await producer.connect();
  const prefixes: string[] = [];
  const results: BenchResult[] = [];
  try {
    await admin.createTopic(topic, { partitions: 3 });
    log(`tracing: producing ${n} payments, each with a sampled traceparent, to ${topic}`);
    const encoder = createAvroEncoder<Payment>({ wire: 'confluent', registry: LocalSchemaRegistry.fromDirectory(SCHEMAS_DIR), schema: 'payment.avsc' });
    const payments = paymentStream(options, n);
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i += 1_000) {
      const messages = payments.slice(i, i + 1_000).map((p) => ({ key: p.cardId, value: encoder.encode(p), headers: { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` } }));
      sends.push(producer.send(topic, messages));
      if (sends.length >= 8) await sends.shift();
    }
    await Promise.all(sends);
    const runs: Record<'off' | 'on', BenchResult[]> = { off: [], on: [] };
    for (let run = 0; run < options.repeat; run++) {
      for (const mode of ['off', 'on'] as const) {
        const prefix = `bench_${randomBytes(4).toString('hex')}_`;
        prefixes.push(prefix);
        const spansBefore = collector.spans;
        const env: Record<string, string> = mode === 'on' ? { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url, OTEL_TRACES_SAMPLER_ARG: String(options.traceRatio) } : {};
        const label = mode === 'on' ? `kafka pipeline, tracing on (${options.traceRatio * 100}% of traces)` : 'kafka pipeline, tracing off (records carry traceparent)';
        const r = await engineDrain(options, services, topic, prefix, 'memory', logger, { env, label });
        const cpuSeconds = r.cpuPerWallSecond * r.seconds;
        r.details = { ...r.details, cpuSeconds, cpuMicrosecondsPerEvent: (cpuSeconds / n) * 1e6, spansExported: collector.spans - spansBefore, exportRequests: collector.requests };
        runs[mode].push(r);
        log(`${label}: ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} events/s, ${((cpuSeconds / n) * 1e6).toFixed(1)} CPU us/event${mode === 'on' ? `, ${collector.spans - spansBefore} spans exported` : ''}`);
      }
    }
    const cpu = (r: BenchResult) => r.details!.cpuSeconds as number;
    for (const mode of ['off', 'on'] as const) {
      const sorted = [...runs[mode]].sort((a, b) => cpu(a) - cpu(b));
      const mid = sorted[(sorted.length - 1) >> 1]!;
      const note = `${mid.note}; CPU ${(cpu(mid) / n * 1e6).toFixed(1)} us/event (runs: ${runs[mode].map((r) => `${r.seconds.toFixed(1)} s wall, ${cpu(r).toFixed(2)} s CPU`).join('; ')})`;
      results.push({ ...mid, note, runs: runs[mode].map((r) => r.seconds) });
    }
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    await collector.close();
    if (!options.keep) for (const [i, prefix] of prefixes.entries()) await cleanUp(services, brokers, i === 0 ? topic : null, prefix, logger);
  }
  return results;
}

/** An OTLP/HTTP endpoint that accepts every export and counts the spans' requests (protobuf: by span id fields). */
async function startSpanSink(): Promise<{ url: string; readonly spans: number; readonly requests: number; close(): Promise<void> }> {
  let spans = 0;
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests++;
      // Every span's span_id is field 2 (tag 0x12) of length 16 right after its 16-byte trace_id (tag 0x0a 0x10).
      const body = Buffer.concat(chunks);
      for (let i = body.indexOf('0a10', 0, 'hex'); i >= 0; i = body.indexOf('0a10', i + 1, 'hex')) if (body[i + 18] === 0x12 && body[i + 19] === 0x08) spans++;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    get spans() {
      return spans;
    },
    get requests() {
      return requests;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
