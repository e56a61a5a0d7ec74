/**
 * The engine's tracing port. Hot-path code sees only these types and a property check
 * (`tracer !== undefined`, `side.trace !== undefined`); the OpenTelemetry SDK behind it is
 * loaded only when tracing is configured (start-tracing.ts).
 */

/** A span's identity, as W3C trace context carries it (structurally OpenTelemetry's SpanContext). */
export interface TraceContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

/** A span in progress: its context parents later stages; `end` closes it (with the error, if it failed). */
export interface StageSpan {
  readonly context: TraceContext;
  end(error?: unknown): void;
}

export type SpanAttributes = Record<string, string | number | boolean>;

/** Most links one span carries (the records of a batch it stands for beyond its parent). */
export const MAX_SPAN_LINKS = 32;

export interface PipelineTracer {
  /**
   * The trace context of a record's `traceparent` header when that trace is followed: sampled
   * upstream and within the sample ratio (decided on the trace id, so every instance follows the
   * same traces). Undefined otherwise, or for a malformed header.
   */
  follow(traceparent: string | Buffer): TraceContext | undefined;
  /** Whether a batch without followed records starts a trace of its own (the sample ratio). */
  sampleRoot(): boolean;
  /**
   * A span for one stage of one batch: the first parent is its parent (none: a new trace), and
   * it links to every parent (at most MAX_SPAN_LINKS). `startTime` in epoch milliseconds.
   */
  startSpan(name: string, parents: readonly TraceContext[], attributes?: SpanAttributes, startTime?: number): StageSpan;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}
