/** Where spans go and how many: from the standard OpenTelemetry variables, or given in code. */
export interface TracingConfig {
  /** The OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  url: string;
  /** 'http/protobuf' (the OTLP default) or 'http/json'. */
  protocol: 'http/protobuf' | 'http/json';
  /** Fraction of followed traces and of batches traced on their own (0-1). */
  sampleRatio: number;
  serviceName?: string;
}

/**
 * Tracing from the environment: on only when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL) or
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL; /v1/traces is appended) is set.
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL choose the encoding,
 * OTEL_TRACES_SAMPLER_ARG the ratio (default 1), OTEL_SERVICE_NAME the service.
 * Returns the problem as a string when a value is invalid (the caller raises the ConfigError).
 */
export function tracingFromEnv(env: NodeJS.ProcessEnv): TracingConfig | undefined | { invalid: string; fix: string } {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!traces && !base) return undefined;
  const url = traces || `${base!.replace(/\/+$/, '')}/v1/traces`;
  if (!/^https?:\/\/[^\s]+$/.test(url)) return { invalid: `OTEL_EXPORTER_OTLP_${traces ? 'TRACES_' : ''}ENDPOINT`, fix: 'an http(s) URL such as http://127.0.0.1:4318' };
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') return { invalid: 'OTEL_EXPORTER_OTLP_PROTOCOL', fix: "'http/protobuf' (default) or 'http/json' (gRPC is not supported)" };
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const sampleRatio = arg ? Number(arg) : 1;
  if (!(sampleRatio >= 0 && sampleRatio <= 1)) return { invalid: 'OTEL_TRACES_SAMPLER_ARG', fix: 'a ratio between 0 and 1, e.g. 0.01 to follow 1% of traces' };
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || undefined;
  return { url, protocol, sampleRatio, ...(serviceName ? { serviceName } : {}) };
}
