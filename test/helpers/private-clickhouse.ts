import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './services.ts';
import { freePorts } from './free-port.ts';

/** What a test needs to reach the private server and its analyst user. */
export interface PrivateClickHouse {
  /** The writer's URL (user default, no password), without a database. */
  url: string;
  /** The database the analyst user may read (created at start). */
  database: string;
  analyst: { user: string; password: string };
  /** The server's user_files directory (where file() and INTO OUTFILE resolve relative paths). */
  userFilesDir: string;
  stop(): Promise<void>;
}

export interface PrivateClickHouseOptions {
  /** max_execution_time of the analyst profile, in seconds (default 30). */
  maxExecutionSeconds?: number;
  /** max_result_rows of the analyst profile (default 100000). */
  maxResultRows?: number;
  /** Extra environment of the server process (canaries a test looks for in answers). */
  env?: Record<string, string>;
}

/**
 * A private ClickHouse 18.16 (Debian's clickhouse-server) on free loopback ports, configured from
 * scripts/clickhouse/config.xml and test/fixtures/clickhouse-analyst/users.xml: the shared
 * server's configuration is never touched. Its "analyst" user has a random password, a readonly
 * profile with limits, and only `database`. Stops with `stop()`, or when this process dies.
 */
export async function startPrivateClickHouse(options: PrivateClickHouseOptions = {}): Promise<PrivateClickHouse> {
  const [http, tcp] = await freePorts(2);
  // In /tmp: the clickhouse user must be able to reach the directory.
  const dir = mkdtempSync(path.join(tmpdir(), 'tributary-analyst-ch-'));
  chmodSync(dir, 0o755);
  const database = 'tributary_analytics';
  const password = randomBytes(18).toString('hex');
  for (const sub of ['etc', 'data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(path.join(dir, sub), { recursive: true });
  const config = readFileSync(path.join(REPO_ROOT, 'scripts/clickhouse/config.xml'), 'utf8')
    .replaceAll('@STATE@', dir)
    .replaceAll('@HTTP_PORT@', String(http))
    .replaceAll('@TCP_PORT@', String(tcp));
  const users = readFileSync(path.join(REPO_ROOT, 'test/fixtures/clickhouse-analyst/users.xml'), 'utf8')
    .replaceAll('@ANALYST_SHA256@', createHash('sha256').update(password).digest('hex'))
    .replaceAll('@ANALYST_DATABASE@', database)
    .replaceAll('@MAX_EXECUTION_SECONDS@', String(options.maxExecutionSeconds ?? 30))
    .replaceAll('@MAX_RESULT_ROWS@', String(options.maxResultRows ?? 100_000));
  writeFileSync(path.join(dir, 'etc/config.xml'), config);
  writeFileSync(path.join(dir, 'etc/users.xml'), users);
  const asRoot = userInfo().uid === 0;
  if (asRoot) chownTree(dir);
  const command = asRoot ? ['runuser', '-u', 'clickhouse', '--', '/usr/sbin/clickhouse-server'] : ['/usr/sbin/clickhouse-server'];
  const server: ChildProcess = spawn(command[0]!, [...command.slice(1), `--config-file=${path.join(dir, 'etc/config.xml')}`], { cwd: dir, stdio: 'ignore', detached: true, env: { ...process.env, ...options.env } });
  server.unref();
  // Stops the server if this process dies without stop() (a runner killing a timed-out file).
  spawn('bash', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; kill -TERM -- -${server.pid} 2>/dev/null; sleep 3; rm -rf ${JSON.stringify(dir)}`], { detached: true, stdio: 'ignore' }).unref();
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/ping`).then((r) => r.ok, () => false);
    if (ok) break;
    if (server.exitCode !== null || Date.now() > deadline) {
      const log = (() => { try { return readFileSync(path.join(dir, 'log/clickhouse-server.err.log'), 'utf8').slice(-2000); } catch { return ''; } })();
      throw new Error(`the private ClickHouse did not start on ${url}: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const create = await fetch(url, { method: 'POST', body: `CREATE DATABASE IF NOT EXISTS ${database}` });
  if (!create.ok) throw new Error(`CREATE DATABASE failed: ${await create.text()}`);
  return {
    url,
    database,
    analyst: { user: 'analyst', password },
    userFilesDir: path.join(dir, 'user_files'),
    stop: async () => {
      try {
        process.kill(-server.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      const until = Date.now() + 10_000;
      while (Date.now() < until && alive(server.pid!)) await new Promise((resolve) => setTimeout(resolve, 100));
      if (alive(server.pid!)) process.kill(-server.pid!, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function chownTree(dir: string): void {
  const uid = Number(execFileSync('id', ['-u', 'clickhouse']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'clickhouse']).toString().trim());
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
  chownSync(dir, uid, gid);
}
