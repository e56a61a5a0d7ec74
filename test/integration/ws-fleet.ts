/**
 * A fleet of real `ws` clients in a child process, so that clients do not compete with the server
 * for its event loop. Used by the slow-client test and scripts/bench-push.ts.
 *
 * Parent side: `Fleet.start()`, then `request(...)`. Child side: this file run with
 * TRIBUTARY_WS_FLEET=1 (Fleet.start does that). Latency is measured with process.hrtime (the
 * monotonic clock, shared by processes on one machine): each item carries `t`, its publish time in µs,
 * and `w`, the label of the measurement window it belongs to.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

export type FleetRequest =
  | { cmd: 'connect'; url: string; count: number; channel: string; filter?: Record<string, unknown>; mode: 'latency' | 'count' }
  | { cmd: 'connectSlow'; url: string; channels: string[] }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'resumeSlow' }
  | { cmd: 'exit' };

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface FleetReport {
  clients: number;
  /** Latency in µs by the window label each item carried (`w`). */
  windows: Record<string, LatencySummary>;
  /** Data frames whose seq was not the previous one + 1, per client and channel. */
  gaps: number;
  minFrames: number;
  maxFrames: number;
}

export interface SlowReport {
  code: number;
  reason: string;
  dataFrames: number;
}

export function nowMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Parent side: one child process holding some clients. */
export class Fleet {
  private nextId = 0;
  private readonly waiting = new Map<number, (reply: unknown) => void>();
  /** Fewest data frames any client of this child has received (count mode), updated every 10 ms. */
  minFrames = 0;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: { id?: number; reply?: unknown; progress?: number }) => {
      if (message.progress !== undefined) this.minFrames = message.progress;
      if (message.id !== undefined) {
        this.waiting.get(message.id)?.(message.reply);
        this.waiting.delete(message.id);
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static start(): Fleet {
    const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, TRIBUTARY_WS_FLEET: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Fleet(child);
  }

  request<T = unknown>(request: FleetRequest): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (reply: unknown) => void);
      this.child.send({ id, request });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ id: -1, request: { cmd: 'exit' } });
    await exited;
  }
}

// ---- child side ----

interface ClientState {
  socket: WebSocket;
  frames: number;
  lastSeq: Map<string, number>;
}

function runChild(): void {
  const clients: ClientState[] = [];
  let latencies = new Map<string, number[]>();
  let gaps = 0;
  let slow: { socket: WebSocket; dataFrames: number; closed: Promise<{ code: number; reason: string }> } | undefined;
  let countTimer: NodeJS.Timeout | undefined;

  const open = (url: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  const subscribe = (socket: WebSocket, channel: string, filter?: Record<string, unknown>) =>
    new Promise<void>((resolve) => {
      const onMessage = (data: Buffer) => {
        if (JSON.parse(data.toString()).type !== 'synced') return;
        socket.off('message', onMessage);
        resolve();
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ type: 'subscribe', channel, snapshot: false, ...(filter ? { filter } : {}) }));
    });

  const handlers: Record<FleetRequest['cmd'], (request: never) => Promise<unknown>> = {
    connect: async (request: Extract<FleetRequest, { cmd: 'connect' }>) => {
      const added = await Promise.all(
        Array.from({ length: request.count }, async () => {
          const socket = await open(request.url);
          await subscribe(socket, request.channel, request.filter);
          const state: ClientState = { socket, frames: 0, lastSeq: new Map() };
          if (request.mode === 'count') {
            socket.on('message', () => void (state.frames += 1));
          } else {
            socket.on('message', (data: Buffer) => {
              const received = nowMicros();
              const frame = JSON.parse(data.toString()) as { type: string; channel: string; seq: number; data: { t: number; w: string } };
              if (frame.type !== 'data') return;
              state.frames += 1;
              let window = latencies.get(frame.data.w);
              if (window === undefined) latencies.set(frame.data.w, (window = []));
              window.push(received - frame.data.t);
              const last = state.lastSeq.get(frame.channel);
              if (last !== undefined && frame.seq !== last + 1) gaps += 1;
              state.lastSeq.set(frame.channel, frame.seq);
            });
          }
          return state;
        }),
      );
      clients.push(...added);
      if (request.mode === 'count' && countTimer === undefined) {
        countTimer = setInterval(() => process.send!({ progress: Math.min(...clients.map((c) => c.frames)) }), 5);
      }
      return { clients: clients.length };
    },
    connectSlow: async (request: Extract<FleetRequest, { cmd: 'connectSlow' }>) => {
      const socket = await open(request.url);
      for (const channel of request.channels) await subscribe(socket, channel);
      const state = { socket, dataFrames: 0, closed: new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))) };
      socket.on('message', (data: Buffer) => {
        if (data.includes('"type":"data"')) state.dataFrames += 1;
      });
      (socket as unknown as { _socket: Socket })._socket.pause(); // never reads from here on
      slow = state;
      return {};
    },
    reset: async () => {
      latencies = new Map();
      gaps = 0;
      for (const client of clients) client.frames = 0;
      return {};
    },
    report: async () => {
      const windows: Record<string, LatencySummary> = {};
      for (const [label, values] of latencies) {
        const sorted = Float64Array.from(values).sort();
        const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
        windows[label] = { count: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
      }
      const frames = clients.map((c) => c.frames);
      const report: FleetReport = { clients: clients.length, windows, gaps, minFrames: Math.min(...frames), maxFrames: Math.max(...frames) };
      return report;
    },
    resumeSlow: async () => {
      if (slow === undefined) throw new Error('no slow client');
      (slow.socket as unknown as { _socket: Socket })._socket.resume();
      const { code, reason } = await slow.closed;
      const report: SlowReport = { code, reason, dataFrames: slow.dataFrames };
      return report;
    },
    exit: async () => {
      clearInterval(countTimer);
      for (const client of clients) client.socket.terminate();
      slow?.socket.terminate();
      setImmediate(() => process.exit(0));
      return {};
    },
  };

  process.on('message', (message: { id: number; request: FleetRequest }) => {
    void handlers[message.request.cmd](message.request as never).then(
      (reply) => process.send!({ id: message.id, reply }),
      (error: unknown) => {
        console.error('fleet:', error);
        process.exit(1);
      },
    );
  });
}

if (process.env.TRIBUTARY_WS_FLEET === '1' && process.send !== undefined) runChild();
