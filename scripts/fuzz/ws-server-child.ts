/**
 * Child process of the WebSocket fuzz targets: the real uWS push server with authentication on,
 * a channel ("fuzz") publishing keyed items, and nothing else, so its memory is the server's.
 * It counts what would otherwise end or quietly degrade the engine: uncaught exceptions and
 * rejections, and warnings the server logs (a WebSocket handler that threw). Driven over IPC.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Metrics } from '../../src/observability/metrics.ts';
import { registerSqlRoute } from '../../src/push/sql-route.ts';
import { startPushServer } from '../../src/push/uws-push-server.ts';
import { MemoryPeak } from './memory.ts';

export interface ServerChildConfig {
  secret: string;
  /** Bearer token of the SQL endpoint, mounted too (its ClickHouse is unreachable: a request past the token check is answered 503 UNAVAILABLE). */
  sqlToken: string;
  channel: string;
  keys: number;
  publishEveryMs: number;
}

export type ServerRequest = { id: number; cmd: 'publish'; channel: string; items: unknown[]; keys?: string[] } | { id: number; cmd: 'report' } | { id: number; cmd: 'close' };

export interface ServerReport {
  stats: Awaited<ReturnType<Awaited<ReturnType<typeof startPushServer>>['stats']>>;
  memory: ReturnType<MemoryPeak['figures']>;
  uncaught: string[];
  warnings: string[];
  /** Server-side counters: disconnects by reason, error frames by code, refused upgrades by reason. */
  counters: Record<string, Record<string, number>>;
}

const config = JSON.parse(process.argv[2]!) as ServerChildConfig;
const uncaught: string[] = [];
const warnings: string[] = [];
process.on('uncaughtException', (error) => uncaught.push(`uncaught exception: ${error.stack ?? String(error)}`));
process.on('unhandledRejection', (reason) => uncaught.push(`unhandled rejection: ${String(reason)}`));

// Warnings and errors only; the server logs a warning when one of its handlers threw.
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line.trim() !== '') warnings.push(line.slice(0, 2000));
    done();
  },
});
const metrics = new Metrics();
const memory = new MemoryPeak().every(50);
const logger = pino({ level: 'warn' }, sink);
const server = await startPushServer({
  port: 0,
  host: '127.0.0.1',
  logger,
  metrics,
  auth: { secret: config.secret },
  // An analyst user for a server nobody listens on: a request past the token check is answered
  // 503 UNAVAILABLE (no chDB is loaded, so the child's memory stays the server's).
  extraRoutes: (app) => registerSqlRoute(app, { clickhouse: { url: 'http://127.0.0.1:9', analyst: { user: 'fuzz', password: 'unused' } }, analystTables: [], logger, credentials: { analystToken: config.sqlToken } }),
});

let published = 0;
const publisher = setInterval(() => {
  const items = Array.from({ length: 5 }, () => {
    published += 1;
    return { n: published, probability: (published % 100) / 100, source: published % 2 === 0 ? 'model' : 'batch', card: `card-${published % config.keys}` };
  });
  server.publish(config.channel, items, items.map((item) => item.card));
}, config.publishEveryMs);

async function counters(): Promise<ServerReport['counters']> {
  const wanted = ['tributary_websocket_disconnects_total', 'tributary_websocket_protocol_errors_total', 'tributary_websocket_rejected_upgrades_total'];
  const result: ServerReport['counters'] = {};
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (!wanted.includes(metric.name)) continue;
    result[metric.name] = Object.fromEntries(metric.values.map((v) => [Object.values(v.labels).join(','), v.value]));
  }
  return result;
}

process.on('message', async (request: ServerRequest) => {
  const reply = (body: Record<string, unknown>) => process.send!({ id: request.id, ...body });
  try {
    if (request.cmd === 'publish') {
      server.publish(request.channel, request.items, request.keys);
      reply({ ok: true });
    } else if (request.cmd === 'report') {
      reply({ ok: true, report: { stats: server.stats(), memory: memory.figures(), uncaught, warnings, counters: await counters() } satisfies ServerReport });
    } else {
      clearInterval(publisher);
      memory.stop();
      await server.close();
      reply({ ok: true });
      process.disconnect();
    }
  } catch (error) {
    reply({ ok: false, error: String(error) });
  }
});

process.send!({ type: 'ready', url: server.url });
