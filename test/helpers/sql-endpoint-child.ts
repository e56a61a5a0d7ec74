import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './services.ts';

/** The engine-like process of sql-endpoint-process.ts, a listener and its RSS, for the corpus test. */
export interface Child {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startEndpoint(env: NodeJS.ProcessEnv, cwd: string): Promise<Child> {
  // tsx by URL: the child runs in a scratch directory, where the package name does not resolve.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO_ROOT, 'test/helpers/sql-endpoint-process.ts')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        // another line
      }
    });
    child.on('exit', (code) => reject(new Error(`the endpoint process exited (${code}): ${stderr}`)));
  });
  return {
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A TCP listener counting connections: url(), s3(), remote(), mysql(), redis() ... would reach it. */
export async function listener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, connections: () => connections };
}

export async function rss(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/rss`);
  return ((await response.json()) as { rss: number }).rss;
}

