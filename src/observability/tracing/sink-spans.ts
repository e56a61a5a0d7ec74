import type { SinkTrace } from './batch-trace.ts';
import { MAX_SPAN_LINKS, type PipelineTracer, type SpanAttributes, type StageSpan, type TraceContext } from './pipeline-tracer.ts';

/**
 * A sink's traced rows between two writes: the parents of the rows it buffered (up to
 * MAX_SPAN_LINKS), taken by the next write as its span's parent and links. Empty and idle
 * while nothing traced arrives.
 */
export class SinkSpans {
  private tracer: PipelineTracer | undefined;
  private parents: TraceContext[] = [];

  /** Rows of a traced batch were buffered. */
  add(trace: SinkTrace): void {
    this.tracer = trace.tracer;
    for (const parent of trace.parents) if (this.parents.length < MAX_SPAN_LINKS && !this.parents.includes(parent)) this.parents.push(parent);
  }

  /** The span of the write about to start, when traced rows are in it. */
  start(name: string, attributes?: SpanAttributes): StageSpan | undefined {
    if (this.tracer === undefined || this.parents.length === 0) return undefined;
    const span = this.tracer.startSpan(name, this.parents, attributes);
    this.parents = [];
    return span;
  }
}
