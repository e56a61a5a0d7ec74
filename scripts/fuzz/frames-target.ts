import fc from 'fast-check';
import { signPushToken } from '../../src/push/push-token.ts';
import { DOCUMENTED_REPLIES, type FrameCase, GRANTED, frameCaseArbitrary } from './frame-cases.ts';
import { FUZZ_SECRET, FuzzServer } from './fuzz-server.ts';
import { FuzzSocket } from './fuzz-socket.ts';
import { checkServerAfter } from './server-checks.ts';
import { Tally, type TargetResult } from './outcomes.ts';
import { chunkSeed } from './seeds.ts';

export interface FramesFuzzOptions {
  frames: number;
  seed: number;
  /** Clients sending at the same time. */
  concurrency?: number;
  /** The server's RSS may grow by at most this much over its start (MiB). */
  rssGrowthMiB?: number;
  progress?: (done: number, total: number) => void;
}

/** Tries of a frame or scenario whose connection uWS dropped at connect (see FuzzSocket.droppedAtConnect). */
const MAX_ATTEMPTS = 3;
const DROPPED = 'dropped at connect';

/** Frames one connection sends before the next one takes over: below the rate limit's burst (100). */
const FRAMES_PER_CONNECTION = 90;
const FLOOD_FRAMES = 230;
const STORM_SUBSCRIBES = 70;
const STORM_UNSUBSCRIBES = 20;

/** The push server's own limit, as documented (and its default). */
const MAX_CHANNELS = 64;
const RATE_BURST = 100;

/**
 * Sends hostile frames from real `ws` clients to the real push server (in its own process, auth on,
 * a channel publishing) and checks that each is answered as documented. Floods and subscription
 * storms run on their own connections. Afterwards the server must still serve a fresh client.
 */
export async function runFramesFuzz(options: FramesFuzzOptions): Promise<TargetResult> {
  const { frames, seed, concurrency = 8, rssGrowthMiB = 128 } = options;
  const started = Date.now();
  const server = await FuzzServer.start();
  const rssStartMiB = (await server.report()).memory.rssEndMiB;
  const token = await signPushToken(FUZZ_SECRET, { channels: GRANTED, expiresInSeconds: 3600, subject: 'fuzz-frames' });
  const url = server.wsUrl(token);
  const tally = new Tally();
  const kinds = new Tally();
  const failures: string[] = [];
  const fail = (text: string) => {
    if (failures.length < 50) failures.push(text);
  };
  let sent = 0;
  let connections = 0;
  let droppedAtConnect = 0;
  const open = async () => {
    connections += 1;
    return FuzzSocket.open(url);
  };
  const cases = caseStream(seed);
  const scenarios = scenarioSchedule(frames);

  const judge = (c: FrameCase, outcome: string, previous?: FrameCase) => {
    sent += 1;
    kinds.add(c.kind);
    tally.add(outcome, () => `${c.kind}: ${describeFrame(c)}`);
    const allowed = c.expect === 'documented' ? DOCUMENTED_REPLIES.has(outcome) : c.expect.includes(outcome);
    if (!allowed) {
      const before = previous === undefined ? '' : `; the frame before it on this connection: ${describeFrame(previous)}`;
      fail(`${c.kind}: answered ${outcome}, expected ${c.expect === 'documented' ? 'a documented answer' : c.expect.join(' or ')}; frame ${describeFrame(c)}${before}`);
    }
    if (sent % 1000 === 0) options.progress?.(sent, frames);
  };

  const worker = async () => {
    let socket: FuzzSocket | undefined;
    let previous: FrameCase | undefined;
    while (sent < frames) {
      const scenario = scenarios[0] !== undefined && sent >= scenarios[0].at ? scenarios.shift() : undefined;
      if (scenario !== undefined) {
        for (let attempt = 1; ; attempt++) {
          const unjudged = await (scenario.kind === 'flood' ? flood(await open(), cases, judge, tally, fail) : storm(await open(), judge, tally, fail));
          if (unjudged !== DROPPED || attempt === MAX_ATTEMPTS) {
            if (unjudged !== DROPPED) sent += unjudged;
            break;
          }
          droppedAtConnect += 1;
        }
        continue;
      }
      if (socket === undefined || !socket.open || socket.sent >= FRAMES_PER_CONNECTION) {
        await socket?.close();
        socket = await open();
        previous = undefined;
      }
      const c = cases.next();
      socket.send(c.frame);
      let outcome = await socket.nextAnswer();
      for (let attempt = 1; socket.droppedAtConnect(outcome) && !expectsClose(c) && attempt < MAX_ATTEMPTS; attempt++) {
        droppedAtConnect += 1;
        socket = await open();
        socket.send(c.frame);
        outcome = await socket.nextAnswer();
      }
      judge(c, outcome, previous);
      previous = c;
      if (outcome === 'no answer') {
        // A late answer would be taken for the next frame's: start over on a new connection.
        await socket.close();
        socket = undefined;
      }
    }
    await socket?.close();
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } catch (error) {
    fail(`the fuzz clients failed: ${String(error)}`);
  }

  const after = await checkServerAfter(server, token, rssStartMiB, rssGrowthMiB);
  failures.push(...after.failures);
  // Each connection dropped at connect must be one the server saw end without a reason (uWS's
  // cork bug), and they must stay rare.
  const abnormal = (after.details.serverCounters as Record<string, Record<string, number>> | undefined)?.tributary_websocket_disconnects_total?.abnormal ?? 0;
  if (droppedAtConnect > abnormal) failures.push(`${droppedAtConnect} connections were dropped at connect but the server counted ${abnormal} abnormal disconnects`);
  if (droppedAtConnect > Math.max(5, connections / 100)) failures.push(`${droppedAtConnect} of ${connections} connections were dropped right after connecting`);
  const { counts, examples } = tally.toJSON();
  return {
    target: 'frames',
    cases: sent,
    crashes: after.crashes,
    failures,
    outcomes: counts,
    examples,
    seconds: (Date.now() - started) / 1000,
    memory: after.memory,
    details: { seed, connections, droppedAtConnect, kinds: kinds.toJSON().counts, ...after.details },
  };
}

type Judge = (c: FrameCase, outcome: string, previous?: FrameCase) => void;

/** Hostile cases from fast-check, a thousand at a time from seeds derived from the run's seed. */
function caseStream(seed: number): { next(): FrameCase } {
  let buffer: FrameCase[] = [];
  let chunk = 0;
  return {
    next() {
      if (buffer.length === 0) buffer = fc.sample(frameCaseArbitrary, { seed: chunkSeed(seed, chunk++), numRuns: 1000 });
      return buffer.pop()!;
    },
  };
}

/** When floods and storms run: spread over the run, at least one of each. */
function scenarioSchedule(frames: number): Array<{ at: number; kind: 'flood' | 'storm' }> {
  const floods = Math.max(1, Math.round(frames / 20_000));
  const storms = Math.max(1, Math.round(frames / 10_000));
  const schedule = [
    ...Array.from({ length: floods }, (_, i) => ({ at: Math.floor(((i + 0.5) * frames) / floods), kind: 'flood' as const })),
    ...Array.from({ length: storms }, (_, i) => ({ at: Math.floor(((i + 0.25) * frames) / storms), kind: 'storm' as const })),
  ];
  return schedule.sort((a, b) => a.at - b.at);
}

/**
 * A flood: FLOOD_FRAMES frames at once on a fresh connection. Documented: the first burst is
 * answered, then one rate_limited error, later frames are ignored, and past another burst of refused
 * frames the server closes with 4029. Resolves with the number of frames not judged one by one.
 */
async function flood(socket: FuzzSocket, cases: { next(): FrameCase }, judge: Judge, tally: Tally, fail: (text: string) => void): Promise<number | typeof DROPPED> {
  const batch: FrameCase[] = [];
  while (batch.length < FLOOD_FRAMES) {
    const c = cases.next();
    if (!expectsClose(c)) batch.push(c);
  }
  for (const c of batch) socket.send(c.frame);
  let answered = 0;
  for (;;) {
    const outcome = await socket.nextAnswer();
    if (answered === 0 && outcome === 'close:1006' && socket.received === 0) return DROPPED; // run it again
    if (answered === batch.length) {
      fail(`flood: all ${answered} frames answered, then ${outcome}; expected rate_limited and close 4029 within the first ${2 * RATE_BURST + 1}`);
      break;
    }
    if (outcome === 'error:rate_limited' || outcome.startsWith('close') || outcome === 'no answer') {
      const closing = outcome === 'error:rate_limited' ? await socket.nextAnswer() : outcome;
      const ok = outcome === 'error:rate_limited' && closing === 'close:4029' && answered >= RATE_BURST;
      if (!ok) fail(`flood: ${answered} frames answered, then ${outcome}, then ${closing}; expected at least ${RATE_BURST} answers, rate_limited, then close 4029`);
      tally.add('flood: error:rate_limited');
      tally.add('flood: ignored, then close:4029', undefined, Math.max(0, FLOOD_FRAMES - answered - 1));
      break;
    }
    judge(batch[answered]!, outcome);
    answered += 1;
  }
  await socket.close();
  return FLOOD_FRAMES - answered;
}

/** A storm: 70 subscribes then 20 unsubscribes at once: 64 subscribed, 6 too_many_channels, 20 unsubscribed, in order. */
async function storm(socket: FuzzSocket, judge: Judge, tally: Tally, fail: (text: string) => void): Promise<0 | typeof DROPPED> {
  const frames: FrameCase[] = [
    ...Array.from({ length: STORM_SUBSCRIBES }, (_, i): FrameCase => ({
      kind: 'storm: subscribe',
      frame: { data: JSON.stringify({ type: 'subscribe', channel: `open.storm${i}`, snapshot: false }), binary: false },
      expect: [i < MAX_CHANNELS ? 'subscribed' : 'error:too_many_channels'],
    })),
    ...Array.from({ length: STORM_UNSUBSCRIBES }, (_, i): FrameCase => ({
      kind: 'storm: unsubscribe',
      frame: { data: JSON.stringify({ type: 'unsubscribe', channel: `open.storm${i}` }), binary: false },
      expect: ['unsubscribed'],
    })),
  ];
  for (const c of frames) socket.send(c.frame);
  const first = await socket.nextAnswer();
  if (first === 'close:1006' && socket.received === 0) return DROPPED; // run it again
  judge(frames[0]!, first);
  for (const c of frames.slice(1)) judge(c, await socket.nextAnswer());
  if (!socket.open) fail(`storm: the connection closed (${socket.closeCode})`);
  tally.add('storm: connections');
  await socket.close();
  return 0;
}

function expectsClose(c: FrameCase): boolean {
  return c.expect !== 'documented' && c.expect.some((outcome) => outcome.startsWith('close'));
}

function describeFrame(c: FrameCase): string {
  const { data, binary } = c.frame;
  const text = typeof data === 'string' ? JSON.stringify(data.length > 200 ? `${data.slice(0, 200)}…` : data) : `hex ${data.subarray(0, 100).toString('hex')}${data.length > 100 ? '…' : ''}`;
  return `${binary ? 'binary ' : ''}${text} (${typeof data === 'string' ? Buffer.byteLength(data) : data.length} bytes)`;
}

