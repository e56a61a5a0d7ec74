import type { PipelineTracer, SpanAttributes, StageSpan, TraceContext } from './pipeline-tracer.ts';

/**
 * The trace of one source batch as it moves through a partition's pipeline, carried on its side
 * outputs (`batch.side.trace`, present only when the batch is traced). Stages read their parents
 * here and leave their own span for the stages after them:
 * decode (parent: the first followed record's producer span) → each windowed step adding the
 * batch's records (parent: decode) → the windows they emit carry that step's span, so a later
 * batch that closes them is traced too → scoring (parent: the emitting window spans) → each sink
 * write (parent: the span of the stage that produced its rows; raw events: decode).
 */
export interface BatchTrace {
  readonly tracer: PipelineTracer;
  /** The decode span of the source batch; undefined when only closing windows made the batch traced. */
  readonly decode: TraceContext | undefined;
  /** Spans of the windowed steps whose emitted windows hold followed records (this pass). */
  emitted: TraceContext[];
  /** The score span of this batch, once scored. */
  scored: TraceContext[];
}

export function traceOfDecode(tracer: PipelineTracer, decode: TraceContext): BatchTrace {
  return { tracer, decode, emitted: [], scored: [] };
}

/** A windowed step's span for adding a traced batch's records (child of its decode span). */
export function startStepSpan(trace: BatchTrace | undefined, name: string, attributes?: SpanAttributes): StageSpan | undefined {
  if (trace?.decode === undefined) return undefined;
  return trace.tracer.startSpan(name, [trace.decode], attributes);
}

/** Windows emitted with followed records in them: the stages after see their spans as parents. */
export function noteEmitted(side: { trace?: BatchTrace }, tracer: PipelineTracer, contexts: readonly TraceContext[]): void {
  if (contexts.length === 0) return;
  const trace = (side.trace ??= { tracer, decode: undefined, emitted: [], scored: [] });
  for (const context of contexts) if (!trace.emitted.includes(context)) trace.emitted.push(context);
}

/** Parents of a score step's span: the windows it scores, else the batch's decode span. */
export function scoreParents(trace: BatchTrace): TraceContext[] {
  if (trace.emitted.length > 0) return trace.emitted;
  return trace.decode === undefined ? [] : [trace.decode];
}

/** Parents of a sink write of `output`: raw events descend from decode, the others from the latest stage. */
export function sinkParents(trace: BatchTrace, output: string): TraceContext[] {
  if (output !== 'raw') {
    if (trace.scored.length > 0) return trace.scored;
    if (trace.emitted.length > 0) return trace.emitted;
  }
  return trace.decode === undefined ? [] : [trace.decode];
}

/** What a sink receives with a write of traced rows. */
export interface SinkTrace {
  tracer: PipelineTracer;
  parents: readonly TraceContext[];
}
