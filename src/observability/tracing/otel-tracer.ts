import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, trace, type Link, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { MAX_SPAN_LINKS, type PipelineTracer, type SpanAttributes, type StageSpan, type TraceContext } from './pipeline-tracer.ts';
import type { TracingConfig } from './tracing-config.ts';

/** The length of a version-00 traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>. */
const TRACEPARENT_LENGTH = 55;

/** The trace id's last 8 hex digits (characters 27-34 of a traceparent) as a number; NaN if not hex. */
function lowTraceIdBits(header: string | Buffer): number {
  let bits = 0;
  for (let i = 27; i < 35; i++) {
    const c = typeof header === 'string' ? header.charCodeAt(i) : header[i]!;
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (digit < 0) return Number.NaN;
    bits = bits * 16 + digit;
  }
  return bits;
}

/**
 * The tracing port over the OpenTelemetry JS SDK: W3C propagation from @opentelemetry/core, a
 * batching span processor and an OTLP/HTTP exporter (protobuf or JSON). Loaded only when tracing
 * is on (dynamic import in start-tracing.ts). The engine samples (follow, sampleRoot); the SDK
 * records every span it is given, so a ratio is not applied twice.
 */
export function createOtelTracer(config: TracingConfig, exporter?: SpanExporter): PipelineTracer {
  const spanExporter = exporter ?? (config.protocol === 'http/json' ? new JsonExporter({ url: config.url }) : new ProtobufExporter({ url: config.url }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName ?? 'tributary' }),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(spanExporter, { scheduledDelayMillis: 1_000, maxQueueSize: 8_192, maxExportBatchSize: 1_024 })],
  });
  const tracer: Tracer = provider.getTracer('tributary');
  const propagator = new W3CTraceContextPropagator();
  // The lowest 32 bits of the trace id (its random part under W3C level 2) against the ratio.
  const threshold = Math.floor(config.sampleRatio * 0x1_0000_0000);

  return {
    follow(header) {
      if (header.length !== TRACEPARENT_LENGTH) return undefined;
      // Decided before any string is made: most records are not followed at a low ratio.
      if (threshold < 0x1_0000_0000 && !(lowTraceIdBits(header) < threshold)) return undefined;
      const value = typeof header === 'string' ? header : header.toString('latin1');
      const context = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent: value }, defaultTextMapGetter));
      // Only traces sampled upstream are followed.
      if (context === undefined || (context.traceFlags & 1) === 0) return undefined;
      return { traceId: context.traceId, spanId: context.spanId, traceFlags: context.traceFlags };
    },
    sampleRoot: () => Math.random() < config.sampleRatio,
    startSpan(name: string, parents: readonly TraceContext[], attributes?: SpanAttributes, startTime?: number): StageSpan {
      const parent = parents[0];
      const context = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true });
      const links: Link[] = [];
      for (let i = 0; i < parents.length && i < MAX_SPAN_LINKS; i++) links.push({ context: { ...parents[i]!, isRemote: true } });
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, links, attributes, startTime }, context);
      const { traceId, spanId, traceFlags } = span.spanContext();
      return {
        context: { traceId, spanId, traceFlags },
        end(error?: unknown) {
          if (error !== undefined) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
          }
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
