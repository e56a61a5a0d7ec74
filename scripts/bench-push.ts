/**
 * WebSocket fan-out: deliveries per second to 200 clients from Tributary's push server (uWS topic
 * path for unfiltered subscriptions, and the JS path for filtered ones) against a plain `ws`
 * WebSocketServer broadcasting the same frames, in the same run.
 *
 *   node --import tsx scripts/bench-push.ts [items=10000] [clients=200] [only=tributary|ws|...]
 *
 * Clients are real `ws` clients in two child processes (test/integration/ws-fleet.ts) that count
 * frames. The publisher keeps at most WINDOW items ahead of the slowest client, so no server
 * buffers without bound and Tributary's slow-client policy never kicks in (checked: 0 conflated).
 * Each frame is serialised once per item for both servers.
 */
import os from 'node:os';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { silentLogger } from '../src/observability/logger.ts';
import { Metrics } from '../src/observability/metrics.ts';
import { startPushServer } from '../src/push/uws-push-server.ts';
import { Fleet } from '../test/integration/ws-fleet.ts';

const ITEMS = Number(process.argv[2] ?? 10_000);
const CLIENTS = Number(process.argv[3] ?? 200);
const BATCH = 100;
const WINDOW = 2_000;
const ROUNDS = 2;

/** A ~210-byte prediction, like the card-fraud channel's. */
function item(n: number) {
  return { cardId: `card-${String(n % 5000).padStart(5, '0')}`, windowEnd: 1795628640000 + n, count1m: 2, sum1m: 26.6, max1m: 16.92, count5m: 2, sum5m: 26.6, max5m: 16.92, probability: 0.0000148, model: 'fraud-lr@22ad597ccc87', source: 'model' };
}

interface Target {
  name: string;
  url: string;
  /** Share of ITEMS to publish: the plain ws server is an order of magnitude slower; its rate is what counts. */
  share: number;
  filter?: Record<string, unknown>;
  publish(items: unknown[], keys: string[], firstSeq: number): void;
  conflated(): Promise<number>;
  close(): Promise<void>;
}

async function tributary(filtered: boolean): Promise<Target> {
  const metrics = new Metrics();
  // Every client connects from loopback: lift the per-address limit (default 50) above CLIENTS.
  const server = await startPushServer({ port: 0, host: '127.0.0.1', logger: silentLogger, metrics, heartbeatIntervalMs: 3_600_000, maxConnectionsPerIp: CLIENTS + 10 });
  return {
    name: filtered ? 'tributary, filtered (JS path)' : 'tributary (uWS topic path)',
    share: 1,
    url: `${server.url.replace('http:', 'ws:')}/ws`,
    ...(filtered ? { filter: { min: { probability: 0 } } } : {}),
    publish: (items, keys) => server.publish('bench', items, keys),
    conflated: async () => (await metrics.wsConflated.get()).values.reduce((sum, v) => sum + v.value, 0),
    close: () => server.close(),
  };
}

/**
 * The plain `ws` baseline: same frames (serialised once, sent as text), a loop over clients per
 * item, as in ws's broadcast example. `corked`: per client, the batch goes out in one write.
 */
async function plainWs(corked: boolean): Promise<Target> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const subscribed = new Set<WsSocket>();
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const { channel } = JSON.parse(data.toString()) as { channel: string };
      socket.send(JSON.stringify({ type: 'subscribed', channel, seq: 0 }));
      socket.send(JSON.stringify({ type: 'synced', channel, seq: 0 }));
      subscribed.add(socket);
    });
    socket.on('close', () => subscribed.delete(socket));
  });
  const address = wss.address() as { port: number };
  return {
    name: corked ? 'ws broadcast, corked per batch' : 'ws WebSocketServer broadcast',
    share: 0.2,
    url: `ws://127.0.0.1:${address.port}/ws`,
    publish: (items, keys, firstSeq) => {
      const frames = items.map((value, i) => Buffer.from(`{"type":"data","channel":"bench","seq":${firstSeq + i},"key":${JSON.stringify(keys[i])},"data":${JSON.stringify(value)}}`));
      if (!corked) {
        for (const frame of frames) for (const socket of subscribed) socket.send(frame, { binary: false });
        return;
      }
      for (const socket of subscribed) {
        const tcp = (socket as unknown as { _socket: import('node:net').Socket })._socket;
        tcp.cork();
        for (const frame of frames) socket.send(frame, { binary: false });
        tcp.uncork();
      }
    },
    conflated: async () => 0,
    close: async () => {
      for (const socket of wss.clients) socket.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

interface Result {
  name: string;
  items: number;
  seconds: number;
  deliveriesPerSecond: number;
  cpuSecondsPerMillion: number;
  conflated: number;
}

/** Publishes `count` items keeping at most WINDOW ahead of the slowest client; resolves when all have all. */
async function pump(target: Target, fleets: Fleet[], count: number, seqStart: number): Promise<void> {
  let published = 0;
  const slowest = () => Math.min(...fleets.map((fleet) => fleet.minFrames));
  while (slowest() < count) {
    if (published < count && published - slowest() < WINDOW) {
      const n = Math.min(BATCH, count - published);
      const items = Array.from({ length: n }, (_, i) => item(seqStart + published + i));
      target.publish(items, items.map((p) => p.cardId), seqStart + published + 1);
      published += n;
      await new Promise((resolve) => setImmediate(resolve));
    } else {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

async function measure(make: () => Promise<Target>): Promise<Result> {
  const target = await make();
  const fleets = [Fleet.start(), Fleet.start()];
  try {
    const half = Math.floor(CLIENTS / 2);
    await Promise.all(fleets.map((fleet, i) => fleet.request({ cmd: 'connect', url: target.url, count: i === 0 ? half : CLIENTS - half, channel: 'bench', mode: 'count', ...(target.filter ? { filter: target.filter } : {}) })));
    await pump(target, fleets, 2_000, 0); // warm-up
    await Promise.all(fleets.map((fleet) => fleet.request({ cmd: 'reset' })));
    await new Promise((resolve) => setTimeout(resolve, 50)); // progress reports restart from 0
    const items = Math.round(ITEMS * target.share);
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    await pump(target, fleets, items, 2_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    const deliveries = items * CLIENTS;
    return { name: target.name, items, seconds, deliveriesPerSecond: deliveries / seconds, cpuSecondsPerMillion: ((used.user + used.system) / 1e6) * (1e6 / deliveries), conflated: await target.conflated() };
  } finally {
    await Promise.all(fleets.map((fleet) => fleet.stop()));
    await target.close();
  }
}

/** `node --import tsx scripts/bench-push.ts 10000 200 ws` runs only the servers whose key contains "ws". */
const only = process.argv[4];
const loadBefore = os.loadavg()[0]!;
const makers = Object.entries({ 'tributary-topic': () => tributary(false), 'tributary-filtered': () => tributary(true), 'ws-plain': () => plainWs(false), 'ws-corked': () => plainWs(true) })
  .filter(([key]) => only === undefined || key.includes(only))
  .map(([, make]) => make);
const results: Result[] = [];
for (let round = 0; round < ROUNDS; round++) for (const make of makers) results.push(await measure(make));

console.log(`\nWebSocket fan-out of ~210-byte items to ${CLIENTS} clients, ${ROUNDS} rounds, Node ${process.versions.node}, ${os.cpus().length} CPUs, load average ${loadBefore.toFixed(1)} before the run\n`);
console.log('| server | round | items | deliveries | seconds | deliveries/s | server CPU s per 1M deliveries | conflated |');
console.log('|---|---|---|---|---|---|---|---|');
results.forEach((r, i) => {
  console.log(`| ${r.name} | ${Math.floor(i / makers.length) + 1} | ${r.items} | ${r.items * CLIENTS} | ${r.seconds.toFixed(2)} | ${Math.round(r.deliveriesPerSecond).toLocaleString('en-US')} | ${r.cpuSecondsPerMillion.toFixed(2)} | ${r.conflated} |`);
});
const best = (name: string) => Math.max(0, ...results.filter((r) => r.name === name).map((r) => r.deliveriesPerSecond));
const ours = best('tributary (uWS topic path)');
const ws = best('ws WebSocketServer broadcast');
const wsCorked = best('ws broadcast, corked per batch');
console.log(`\nbest of rounds: tributary ${Math.round(ours).toLocaleString('en-US')}/s; ws ${Math.round(ws).toLocaleString('en-US')}/s (${(ours / ws).toFixed(1)}x); ws corked ${Math.round(wsCorked).toLocaleString('en-US')}/s (${(ours / wsCorked).toFixed(1)}x)`);
process.exit(0);
