import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/services.ts';
import { freePort } from '../helpers/free-port.ts';
import { firstDataFrame } from '../helpers/first-data-frame.ts';

const run = promisify(execFile);

interface Stage {
  name: string;
  dir: string;
  workdir: string;
  env: NodeJS.ProcessEnv;
  cmd?: string[];
}

/**
 * The Dockerfile's own steps, run without Docker (none here): each stage is a scratch directory,
 * FROM/WORKDIR/ENV/COPY/RUN/CMD are carried out as written (RUN through bash in the stage's
 * working directory, COPY from the checkout or, with --from, from an earlier stage). USER and
 * EXPOSE need no action here. So the test follows the file, not a copy of its commands.
 */
async function runDockerfile(root: string): Promise<Stage> {
  const lines = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const base: NodeJS.ProcessEnv = { ...process.env };
  // The image has no services and none of this test runner's settings.
  for (const name of ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'REDIS_URL', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete base[name];
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (instruction === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? `stage${stages.length}`;
      stage = { name, dir: path.join(root, name), workdir: '/', env: { ...base } };
      mkdirSync(stage.dir, { recursive: true });
      stages.push(stage);
      continue;
    }
    assert.ok(stage, `${instruction} before FROM`);
    const inStage = (target: string) => path.join(stage!.dir, path.posix.resolve(stage!.workdir, target));
    if (instruction === 'WORKDIR') {
      stage.workdir = path.posix.resolve(stage.workdir, args);
      mkdirSync(inStage('.'), { recursive: true });
    } else if (instruction === 'ENV') {
      for (const [, name, value] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) stage.env[name!] = value!.replace(/^"|"$/g, '');
    } else if (instruction === 'COPY') {
      const from = /--from=(\S+)/.exec(args)?.[1];
      const parts = args.split(/\s+/).filter((part) => !part.startsWith('--'));
      const target = parts.pop()!;
      const source = from === undefined ? REPO_ROOT : stages.find((s) => s.name === from)!.dir;
      for (const part of parts) {
        const origin = from === undefined ? path.join(source, part) : path.join(source, part);
        const destination = target.endsWith('/') && parts.length > 1 ? path.join(inStage(target), path.basename(part)) : target === './' ? path.join(inStage('.'), path.basename(part)) : inStage(target);
        cpSync(origin, destination, { recursive: true, filter: (file) => !file.includes(`${path.sep}node_modules`) && !file.includes(`${path.sep}.services`) });
      }
    } else if (instruction === 'RUN') {
      // chown to the image's user has no meaning here; nor has emptying npm's cache, which keeps
      // the image layer small but here would empty this machine's shared cache (~/.npm) under
      // every other npm at work, and did fail on it (ENOTEMPTY).
      const command = args.replace(/chown -R \S+ \/app/, 'true').replace(/npm cache clean --force/, 'true');
      await run('bash', ['-euo', 'pipefail', '-c', command], { cwd: inStage('.'), env: stage.env, maxBuffer: 64 * 1024 * 1024 });
    } else if (instruction === 'CMD') {
      stage.cmd = JSON.parse(args) as string[];
    } else {
      assert.ok(['USER', 'EXPOSE'].includes(instruction!), `unexpected Dockerfile instruction ${instruction}`);
    }
  }
  return stages.at(-1)!;
}

test("the Dockerfile's steps, run by hand: the build stage compiles, the runtime stage installs production dependencies only and its command serves the demo", { timeout: 600_000 }, async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'tributary-docker-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const image = await runDockerfile(root);
  const app = path.join(image.dir, image.workdir);
  const { stdout: tree } = await run('npm', ['ls', '--omit=dev', '--depth=0', '--parseable'], { cwd: app, env: image.env });
  assert.doesNotMatch(tree, /typescript|playwright-core|fast-check/, 'no build or test tools in the image');
  assert.ok(image.cmd, 'the Dockerfile has a CMD');

  // The image's command, as the container runs it (embedded demo: no services configured).
  const port = await freePort();
  const [program, ...args] = image.cmd!;
  const child = spawn(program === 'node' ? process.execPath : program!, args, { cwd: app, env: { ...image.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  const frame = await firstDataFrame(port, 'fraud', { timeoutMs: 90_000, output: () => output });
  // Under the card-fraud data protection: a keyed hash of the card id, never the id.
  assert.match(String((frame.data as Record<string, unknown>).cardId), /^h1_[A-Za-z0-9_-]{22}$/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output.slice(-2000));
  assert.match(output, /Stopped cleanly after \d+ records/);
});
