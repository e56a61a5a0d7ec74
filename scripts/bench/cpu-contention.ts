/**
 * Who had the CPUs right after each window close (Linux only). At the close moment and `spanMs`
 * later it reads how long each thread of the engine has been on a CPU, and how long its main
 * thread has been runnable but waiting for one (/proc/<pid>/task/<tid>/schedstat, ns), and the
 * CPU time of the load generator, this process and the local services (/proc/<pid>/stat, 10 ms
 * ticks). Two reads per close, so the measuring process itself stays out of the way.
 */
import fs from 'node:fs';

export interface ContentionGroups {
  /** The engine process (the one running the topology, not a supervisor). */
  engine: number;
  /** The load generator. */
  producer: number;
  /** This process: the WebSocket client. */
  client: number;
}

type Reading = Map<string, number>;

const SERVICES: Array<[string, RegExp]> = [['broker', /kafka\.Kafka/], ['clickhouse', /clickhouse-server|clickhouse server/], ['redis', /redis-server/]];
const GROUPS = ['engine-main', 'engine-threads', 'producer', 'client', ...SERVICES.map(([name]) => name)];

/**
 * Reads at each of `closes` and `spanMs` after it; `lines()` gives one line per close read on
 * both sides: ms the engine's main thread waited for a CPU, then ms of CPU per group.
 */
export function sampleAroundCloses(groups: ContentionGroups, closes: number[], spanMs: number): { lines(): string[]; stop(): void } | undefined {
  if (!fs.existsSync(`/proc/${groups.engine}/task`)) return undefined;
  const services = findServices();
  const readings = new Map<number, Reading>();
  const timers = closes.flatMap((close) => [close, close + spanMs]).map((at) => setTimeout(() => readings.set(at, read(groups, services)), Math.max(0, at - Date.now())));
  return {
    stop: () => timers.forEach(clearTimeout),
    lines: () =>
      closes.flatMap((close) => {
        const from = readings.get(close);
        const to = readings.get(close + spanMs);
        if (from === undefined || to === undefined) return [];
        const ms = (group: string) => Math.round(((to.get(group) ?? 0) - (from.get(group) ?? 0)) / 1e6);
        return [`- ${new Date(close).toISOString().slice(11, 16)}: engine main thread waiting for a CPU ${ms('engine-wait')} ms; on a CPU: ${GROUPS.map((group) => `${group} ${ms(group)}`).join(', ')}`];
      }),
  };
}

function read(groups: ContentionGroups, services: Map<string, number[]>): Reading {
  const ns: Reading = new Map();
  const add = (group: string, value: number) => ns.set(group, (ns.get(group) ?? 0) + value);
  for (const [tid, run, wait] of threads(groups.engine)) {
    add(tid === groups.engine ? 'engine-main' : 'engine-threads', run);
    if (tid === groups.engine) add('engine-wait', wait);
  }
  add('producer', processNs(groups.producer));
  add('client', processNs(groups.client));
  for (const [name, pids] of services) for (const pid of pids) add(name, processNs(pid));
  return ns;
}

function findServices(): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const pid of pids()) {
    const cmdline = readOr(`/proc/${pid}/cmdline`, '').replaceAll('\0', ' ');
    const service = SERVICES.find(([, pattern]) => pattern.test(cmdline));
    if (service !== undefined) found.set(service[0], [...(found.get(service[0]) ?? []), pid]);
  }
  return found;
}

/** [tid, ns on a CPU, ns runnable but waiting] of each thread of `pid`. */
function threads(pid: number): Array<[number, number, number]> {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid): Array<[number, number, number]> => {
    const fields = readOr(`/proc/${pid}/task/${tid}/schedstat`, '').split(' ');
    return fields.length < 2 ? [] : [[Number(tid), Number(fields[0]), Number(fields[1])]];
  });
}

/** utime + stime of a whole process, in ns (10 ms ticks). */
function processNs(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`, '');
  if (stat === '') return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) * 1e7;
}

/** The process running the topology: `bin/tributary.js` re-starts itself with heap flags under a memory budget. */
export function engineProcess(supervisor: number): number {
  for (const pid of pids()) {
    const stat = readOr(`/proc/${pid}/stat`, '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === supervisor && readOr(`/proc/${pid}/cmdline`, '').includes('tributary.js')) return pid;
  }
  return supervisor;
}

function pids(): number[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number);
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
