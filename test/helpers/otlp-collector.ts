import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// The OpenTelemetry SDK's own OTLP types and protobuf reader (@opentelemetry/otlp-transformer).
import { ProtobufReader } from '@opentelemetry/otlp-transformer/build/src/common/protobuf/protobuf-reader.js';
import type { IExportTraceServiceRequest } from '@opentelemetry/otlp-transformer/build/src/trace/internal-types.js';

/** One received span, ids as lowercase hex. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  links: Array<{ traceId: string; spanId: string }>;
}

const hex = (bytes: Uint8Array | string | undefined) => (bytes === undefined ? '' : typeof bytes === 'string' ? bytes.toLowerCase() : Buffer.from(bytes).toString('hex'));

/**
 * A stand-in for an OpenTelemetry collector: an HTTP listener on loopback taking OTLP/HTTP trace
 * exports (POST /v1/traces) as protobuf or JSON, decoded with the SDK's own types and reader,
 * and keeping every span.
 */
export class OtlpCollector {
  readonly spans: ReceivedSpan[] = [];
  /** Requests by content type. */
  readonly requests = new Map<string, number>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpCollector> {
    const server = createServer();
    const collector = new OtlpCollector(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const type = String(request.headers['content-type'] ?? '');
        collector.requests.set(type, (collector.requests.get(type) ?? 0) + 1);
        const body = Buffer.concat(chunks);
        if (request.url !== '/v1/traces') {
          response.writeHead(404).end();
          return;
        }
        if (type.startsWith('application/json')) {
          collector.spans.push(...fromJson(JSON.parse(body.toString('utf8')) as IExportTraceServiceRequest));
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          collector.spans.push(...fromProtobuf(new Uint8Array(body)));
          response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(); // an empty ExportTraceServiceResponse
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  inTrace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function fromJson(request: IExportTraceServiceRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resource) =>
    resource.scopeSpans.flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        traceId: hex(span.traceId),
        spanId: hex(span.spanId),
        parentSpanId: hex(span.parentSpanId),
        name: span.name,
        links: (span.links ?? []).map((link) => ({ traceId: hex(link.traceId), spanId: hex(link.spanId) })),
      })),
    ),
  );
}

/** Walks an ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1) for the span fields above. */
function fromProtobuf(bytes: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  const fields = (data: Uint8Array, visit: (field: number, reader: ProtobufReader, wireType: number) => boolean) => {
    const reader = new ProtobufReader(data);
    while (!reader.isAtEnd()) {
      const { fieldNumber, wireType } = reader.readTag();
      if (!visit(fieldNumber, reader, wireType)) reader.skip(wireType);
    }
  };
  fields(bytes, (field, request) => {
    if (field !== 1) return false; // resource_spans
    fields(request.readBytes(), (field, resourceSpans) => {
      if (field !== 2) return false; // scope_spans
      fields(resourceSpans.readBytes(), (field, scopeSpans) => {
        if (field !== 2) return false; // spans
        const span: ReceivedSpan = { traceId: '', spanId: '', parentSpanId: '', name: '', links: [] };
        fields(scopeSpans.readBytes(), (field, reader) => {
          if (field === 1) span.traceId = hex(reader.readBytes());
          else if (field === 2) span.spanId = hex(reader.readBytes());
          else if (field === 4) span.parentSpanId = hex(reader.readBytes());
          else if (field === 5) span.name = reader.readString();
          else if (field === 13) {
            const link = { traceId: '', spanId: '' };
            fields(reader.readBytes(), (field, linkReader) => {
              if (field === 1) link.traceId = hex(linkReader.readBytes());
              else if (field === 2) link.spanId = hex(linkReader.readBytes());
              else return false;
              return true;
            });
            span.links.push(link);
          } else return false;
          return true;
        });
        spans.push(span);
        return true;
      });
      return true;
    });
    return true;
  });
  return spans;
}
