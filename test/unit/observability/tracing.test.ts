import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tracingFromEnv } from '../../../src/observability/tracing/tracing-config.ts';
import { createOtelTracer } from '../../../src/observability/tracing/otel-tracer.ts';
import { loadConfig } from '../../../src/topology/config.ts';
import { OtlpCollector } from '../../helpers/otlp-collector.ts';

test('tracing is off without an OTLP endpoint, and configured from the standard OpenTelemetry variables', () => {
  assert.equal(tracingFromEnv({}), undefined);
  assert.equal(loadConfig({}).tracing, undefined);
  assert.deepEqual(tracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), { url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', sampleRatio: 1 });
  assert.deepEqual(
    tracingFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c:4318/custom', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER_ARG: '0.01', OTEL_SERVICE_NAME: 'fraud' }),
    { url: 'https://c:4318/custom', protocol: 'http/json', sampleRatio: 0.01, serviceName: 'fraud' },
  );
  assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL.*gRPC is not supported/);
  assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_SAMPLER_ARG: '2' }), /OTEL_TRACES_SAMPLER_ARG.*between 0 and 1/);
});

test('follow: only well-formed, upstream-sampled traceparents within the ratio (decided on the trace id)', async () => {
  const tracer = createOtelTracer({ url: 'http://127.0.0.1:9/v1/traces', protocol: 'http/json', sampleRatio: 0.5 });
  const low = `00-${'ab'.repeat(12)}00000001-${'cd'.repeat(8)}-01`;
  const high = `00-${'ab'.repeat(12)}ffffffff-${'cd'.repeat(8)}-01`;
  assert.deepEqual(tracer.follow(Buffer.from(low)), { traceId: `${'ab'.repeat(12)}00000001`, spanId: 'cd'.repeat(8), traceFlags: 1 });
  assert.equal(tracer.follow(high), undefined, 'outside the ratio');
  assert.equal(tracer.follow(low.replace(/-01$/, '-00')), undefined, 'not sampled upstream');
  assert.equal(tracer.follow(`00-${'0'.repeat(32)}-${'cd'.repeat(8)}-01`), undefined, 'invalid trace id');
  assert.equal(tracer.follow('garbage'), undefined);
  await tracer.shutdown();
});

test('spans go to an OTLP/JSON collector with their parent and links', async (t) => {
  const collector = await OtlpCollector.start();
  t.after(() => collector.close());
  const tracer = createOtelTracer({ url: collector.url, protocol: 'http/json', sampleRatio: 1 });
  const remote = { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 };
  const other = { traceId: '3'.repeat(32), spanId: '4'.repeat(16), traceFlags: 1 };
  const decode = tracer.startSpan('decode', [remote, other], { 'tributary.records': 2 });
  decode.end();
  tracer.startSpan('window w', [decode.context]).end(new Error('boom'));
  await tracer.shutdown();
  assert.ok((collector.requests.get('application/json') ?? 0) >= 1);
  const spans = collector.inTrace(remote.traceId);
  assert.deepEqual(spans.map((s) => s.name).sort(), ['decode', 'window w']);
  const received = spans.find((s) => s.name === 'decode')!;
  assert.equal(received.parentSpanId, remote.spanId);
  assert.deepEqual(received.links, [{ traceId: remote.traceId, spanId: remote.spanId }, { traceId: other.traceId, spanId: other.spanId }]);
  assert.equal(spans.find((s) => s.name === 'window w')!.parentSpanId, decode.context.spanId);
});

test('the OpenTelemetry SDK is imported by otel-tracer.ts alone, which only start-tracing.ts loads, on demand', async () => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const path = await import('node:path');
  const src = path.resolve(import.meta.dirname, '../../../src');
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(path.join(dir, name)).isDirectory() ? files(path.join(dir, name)) : [path.join(dir, name)]));
  const valueImports = files(src)
    .filter((file) => file.endsWith('.ts'))
    .filter((file) => /^import (?!type )[^;]*from '@opentelemetry\//m.test(readFileSync(file, 'utf8')))
    .map((file) => path.relative(src, file));
  assert.deepEqual(valueImports, ['observability/tracing/otel-tracer.ts']);
  const loaders = files(src).filter((file) => file.endsWith('.ts') && readFileSync(file, 'utf8').includes('otel-tracer.ts')).map((file) => path.relative(src, file));
  assert.deepEqual(loaders, ['observability/tracing/start-tracing.ts']);
  assert.match(readFileSync(path.join(src, 'observability/tracing/start-tracing.ts'), 'utf8'), /await import\('\.\/otel-tracer\.ts'\)/);
});
