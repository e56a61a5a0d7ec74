import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePorts } from './free-port.ts';

export interface PrivateRedis {
  url: string;
  stop: () => Promise<void>;
}

/**
 * A Redis of the test's own (redis-server on a free loopback port, no persistence), for tests that
 * scan every key: the shared Redis holds other files' in-clear state, whose values may equal a canary.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const [port] = await freePorts(1);
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port!))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port} (exit code ${child.exitCode})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
