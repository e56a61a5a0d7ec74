import fc from 'fast-check';
import { signPushToken } from '../../src/push/push-token.ts';
import { FUZZ_SECRET, FUZZ_SQL_TOKEN, FuzzServer } from './fuzz-server.ts';
import { Tally, type TargetResult } from './outcomes.ts';
import { chunkSeed } from './seeds.ts';
import { checkServerAfter } from './server-checks.ts';
import { type TokenCase, bearerMutations, forge, tokenMutations } from './token-mutations.ts';
import { postSql, tryUpgrade } from './upgrade-probe.ts';

export interface TokensFuzzOptions {
  tokens: number;
  seed: number;
  concurrency?: number;
  progress?: (done: number, total: number) => void;
}

/** One positive control (a valid token, which must be let in) after every this many mutations. */
const CONTROL_EVERY = 100;

/**
 * Mutated WebSocket tokens against the real upgrade of the push server, and mutated bearer headers
 * against its SQL endpoint: none may be accepted, while valid ones, interleaved, must be.
 */
export async function runTokensFuzz(options: TokensFuzzOptions): Promise<TargetResult> {
  const { tokens, seed, concurrency = 16 } = options;
  const started = Date.now();
  const server = await FuzzServer.start();
  const rssStartMiB = (await server.report()).memory.rssEndMiB;
  const nowSeconds = Math.floor(Date.now() / 1000);
  const base = await signPushToken(FUZZ_SECRET, { channels: ['fuzz'], expiresInSeconds: 3600, subject: 'fuzz-tokens' });
  const header = { alg: 'HS256', typ: 'JWT' };
  const controls = [
    base,
    forge(header, { channels: ['fuzz', 'open*'], exp: nowSeconds + 600 }, FUZZ_SECRET), // signed here, not by jose
    forge(header, { channels: ['*'], exp: nowSeconds + 60, nbf: nowSeconds - 5, sub: 'control' }, FUZZ_SECRET),
    await signPushToken(FUZZ_SECRET, { channels: ['open.a', 'open.b'], expiresInSeconds: 120 }),
  ];
  const tally = new Tally();
  const kinds = new Tally();
  const failures: string[] = [];
  let accepted = 0;
  const control = { run: 0, accepted: 0 };

  const jwtCases = fc.sample(tokenMutations(base, FUZZ_SECRET, nowSeconds), { seed: chunkSeed(seed, 0), numRuns: tokens });
  await inParallel(jwtCases, concurrency, async (c, i) => {
    const outcome = await tryUpgrade(server.wsUrl(), c.token);
    record('websocket', c, outcome, outcome === 'accepted');
    if (i % CONTROL_EVERY === 0) {
      const token = controls[(i / CONTROL_EVERY) % controls.length]!;
      const verdict = await tryUpgrade(server.wsUrl(), token);
      control.run += 1;
      if (verdict === 'accepted') control.accepted += 1;
      else failures.push(`a valid token was refused (${verdict}): ${token}`);
    }
    if ((i + 1) % 1000 === 0) options.progress?.(i + 1, tokens * 2);
  });

  const sqlCases = fc.sample(bearerMutations(FUZZ_SQL_TOKEN), { seed: chunkSeed(seed, 1), numRuns: tokens });
  const sqlControls = [`Bearer ${FUZZ_SQL_TOKEN}`, `bearer ${FUZZ_SQL_TOKEN}`, `Bearer \t${FUZZ_SQL_TOKEN}  `];
  await inParallel(sqlCases, concurrency, async (c, i) => {
    const outcome = await postSql(server.port, c.token);
    record('sql', c, outcome, sqlAccepted(outcome));
    if (i % CONTROL_EVERY === 0) {
      const value = sqlControls[(i / CONTROL_EVERY) % sqlControls.length]!;
      const verdict = await postSql(server.port, value);
      control.run += 1;
      if (sqlAccepted(verdict)) control.accepted += 1;
      else failures.push(`a valid SQL bearer header was refused (${verdict}): ${JSON.stringify(value)}`);
    }
    if ((i + 1) % 1000 === 0) options.progress?.(tokens + i + 1, tokens * 2);
  });

  const after = await checkServerAfter(server, base, rssStartMiB, 128);
  failures.push(...after.failures);
  const { counts, examples } = tally.toJSON();
  return {
    target: 'tokens',
    cases: jwtCases.length + sqlCases.length,
    crashes: after.crashes,
    accepted,
    failures: failures.slice(0, 60),
    outcomes: counts,
    examples,
    seconds: (Date.now() - started) / 1000,
    memory: after.memory,
    details: { seed, websocketMutations: jwtCases.length, sqlBearerMutations: sqlCases.length, positiveControls: control, kinds: kinds.toJSON().counts, ...after.details },
  };

  function record(endpoint: 'websocket' | 'sql', c: TokenCase, outcome: string, wasAccepted: boolean): void {
    kinds.add(`${endpoint}: ${c.kind}`);
    tally.add(`${endpoint}: ${wasAccepted ? 'ACCEPTED' : outcome}`, () => `${c.kind}: ${JSON.stringify(c.token.length > 300 ? `${c.token.slice(0, 300)}…` : c.token)}`);
    if (!wasAccepted) return;
    accepted += 1;
    failures.push(`${endpoint}: a mutated token was accepted (${c.kind}, answered ${outcome}): ${JSON.stringify(c.token.slice(0, 400))}`);
  }
}

/** The endpoint answered past its token check: with its own error code, other than UNAUTHORIZED (its ClickHouse is unreachable, so UNAVAILABLE). */
function sqlAccepted(outcome: string): boolean {
  const code = /^HTTP \d{3} ([A-Z_]+)$/.exec(outcome)?.[1];
  return code !== undefined && code !== 'UNAUTHORIZED';
}

async function inParallel<T>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        await run(items[index]!, index);
      }
    }),
  );
}
