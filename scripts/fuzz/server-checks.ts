import { describeExit } from './child-process.ts';
import { FUZZ_CHANNEL, type FuzzServer } from './fuzz-server.ts';
import { FuzzSocket } from './fuzz-socket.ts';
import type { MemoryFigures } from './outcomes.ts';

export interface ServerVerdict {
  crashes: number;
  failures: string[];
  memory: MemoryFigures;
  details: Record<string, unknown>;
}

/**
 * What must hold after hostile clients are done: the server process is alive and threw nothing,
 * it let go of every session, a fresh client can subscribe and receives a published item, its RSS
 * grew by less than the bound, and it shuts down cleanly.
 */
export async function checkServerAfter(server: FuzzServer, token: string, rssStartMiB: number, rssGrowthMiB: number): Promise<ServerVerdict> {
  const failures: string[] = [];
  let crashes = 0;
  if (server.exit !== undefined) {
    const exit = await server.close();
    return { crashes: 1, failures: [`the server process died: ${describeExit(exit)}`], memory: { heapPeakMiB: NaN, rssStartMiB, rssPeakMiB: NaN, rssEndMiB: NaN }, details: {} };
  }

  let clientsLeft = (await server.report()).stats.clients;
  for (let waited = 0; clientsLeft > 0 && waited < 10_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    clientsLeft = (await server.report()).stats.clients;
  }
  if (clientsLeft > 0) failures.push(`${clientsLeft} sessions left on the server after every client closed`);

  let alive = false;
  try {
    // A new connection may be dropped at connect by a uWS bug (FuzzSocket.droppedAtConnect): try again then.
    for (let attempt = 1; attempt <= 3 && !alive; attempt++) {
      const socket = await FuzzSocket.open(server.wsUrl(token));
      socket.send({ data: JSON.stringify({ type: 'subscribe', channel: FUZZ_CHANNEL, snapshot: false }), binary: false });
      const answer = await socket.nextAnswer();
      if (socket.droppedAtConnect(answer)) continue;
      const marker = `alive-${Date.now()}`;
      await server.publish(FUZZ_CHANNEL, [{ marker }], ['alive-check']);
      alive = answer === 'subscribed' && (await socket.awaitData((data) => (data as { marker?: unknown } | null)?.marker === marker));
      await socket.close();
      if (!alive) break;
    }
  } catch (error) {
    failures.push(`a fresh client could not use the server: ${String(error)}`);
  }
  if (!alive) failures.push('a fresh client did not receive a published item after the fuzz run');

  const report = await server.report();
  crashes += report.uncaught.length;
  for (const text of report.uncaught.slice(0, 10)) failures.push(`server: ${text}`);
  for (const text of report.warnings.slice(0, 10)) failures.push(`server logged: ${text}`);
  const memory = { ...report.memory, rssStartMiB };
  const growth = memory.rssPeakMiB - rssStartMiB;
  if (growth > rssGrowthMiB) failures.push(`server RSS grew by ${growth.toFixed(1)} MiB (from ${rssStartMiB} to ${memory.rssPeakMiB}), over the bound of ${rssGrowthMiB} MiB`);

  const exit = await server.close();
  if (exit.code !== 0) {
    crashes += 1;
    failures.push(`the server process did not exit cleanly: ${describeExit(exit)}`);
  }
  return {
    crashes,
    failures,
    memory,
    details: { aliveAfter: alive, serverStatsAfter: report.stats, serverCounters: report.counters, serverWarnings: report.warnings.length, uncaughtInServer: report.uncaught.length },
  };
}
