import type { Logger } from '../logger.ts';
import type { PipelineTracer } from './pipeline-tracer.ts';
import type { TracingConfig } from './tracing-config.ts';

/**
 * The tracer when tracing is configured, else undefined. The OpenTelemetry SDK is imported here,
 * on demand: an engine without tracing never loads it.
 */
export async function startTracing(config: TracingConfig | undefined, logger: Logger, serviceName: string): Promise<PipelineTracer | undefined> {
  if (config === undefined) return undefined;
  const { createOtelTracer } = await import('./otel-tracer.ts');
  const tracer = createOtelTracer({ ...config, serviceName: config.serviceName ?? serviceName });
  logger.info({ url: config.url, protocol: config.protocol, sampleRatio: config.sampleRatio }, 'tracing: spans per batch and stage exported over OTLP');
  return tracer;
}
