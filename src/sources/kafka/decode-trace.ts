import type { KafkaMessage } from '../../kafka/kafka-client.ts';
import { traceOfDecode, type BatchTrace } from '../../observability/tracing/batch-trace.ts';
import { MAX_SPAN_LINKS, type PipelineTracer, type TraceContext } from '../../observability/tracing/pipeline-tracer.ts';

/**
 * The decode span of one chunk of a partition's fetch (messages [start, end)), when it is traced:
 * its followed records' `traceparent` headers are its parent (the first) and links (up to
 * MAX_SPAN_LINKS); a chunk without any is traced on its own at the sample ratio. Undefined: not
 * traced. Called only when tracing is on; costs one header lookup per record then.
 */
export function traceDecode(tracer: PipelineTracer, messages: readonly KafkaMessage[], start: number, end: number, startedAt: number, where: { topic: string; partition: number; records: number; deadLetters: number }): BatchTrace | undefined {
  let followed: TraceContext[] | undefined;
  for (let i = start; i < end; i++) {
    const header = messages[i]!.headers?.traceparent;
    if (header === undefined) continue;
    const context = tracer.follow(Array.isArray(header) ? header[0]! : header);
    if (context === undefined) continue;
    (followed ??= []).push(context);
    if (followed.length >= MAX_SPAN_LINKS) break;
  }
  if (followed === undefined && !tracer.sampleRoot()) return undefined;
  const span = tracer.startSpan(
    'decode',
    followed ?? [],
    {
      'messaging.system': 'kafka',
      'messaging.destination.name': where.topic,
      'messaging.destination.partition.id': String(where.partition),
      'messaging.batch.message_count': end - start,
      'messaging.kafka.offset': Number(messages[start]!.offset),
      'tributary.records': where.records,
      'tributary.dead_letters': where.deadLetters,
      'tributary.followed_traces': followed?.length ?? 0,
    },
    startedAt,
  );
  span.end();
  return traceOfDecode(tracer, span.context);
}
