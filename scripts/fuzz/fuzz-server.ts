import type { ChildProcess } from 'node:child_process';
import { type ChildExit, describeExit, startTsChild } from './child-process.ts';
import type { ServerChildConfig, ServerReport, ServerRequest } from './ws-server-child.ts';

/** A fixed secret, so tokens kept in the corpus (test/fuzz/corpus) stay meaningful. Not a real one. */
export const FUZZ_SECRET = 'tributary-fuzz-secret-not-for-production-0123456789';
export const FUZZ_CHANNEL = 'fuzz';
export const FUZZ_SQL_TOKEN = 'tributary-fuzz-sql-token-0123456789';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** The push server running in its own process (ws-server-child.ts), driven over IPC. */
export class FuzzServer {
  /** Set once the process has exited (a death before `close` is a crash). */
  exit: ChildExit | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly exited: Promise<ChildExit>,
  ) {
    child.on('message', (message: { id?: number }) => {
      const resolve = message.id === undefined ? undefined : this.waiting.get(message.id);
      if (resolve !== undefined) {
        this.waiting.delete(message.id!);
        resolve(message as Record<string, unknown>);
      }
    });
    void exited.then((exit) => {
      this.exit = exit;
      for (const resolve of this.waiting.values()) resolve({ ok: false, error: `the server process ended (${describeExit(exit)})` });
      this.waiting.clear();
    });
  }

  static async start(config: Partial<ServerChildConfig> = {}): Promise<FuzzServer> {
    const full: ServerChildConfig = { secret: FUZZ_SECRET, sqlToken: FUZZ_SQL_TOKEN, channel: FUZZ_CHANNEL, keys: 50, publishEveryMs: 100, ...config };
    const { child, exited } = startTsChild('./ws-server-child.ts', [JSON.stringify(full)]);
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { type: string; url: string }) => resolve(message.url));
      void exited.then((exit) => reject(new Error(`the push server process did not start (${describeExit(exit)})`)));
    });
    return new FuzzServer(child, url, exited);
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  wsUrl(token?: string): string {
    const base = `${this.url.replace('http:', 'ws:')}/ws`;
    return token === undefined ? base : `${base}?token=${encodeURIComponent(token)}`;
  }

  async publish(channel: string, items: unknown[], keys?: string[]): Promise<void> {
    await this.request({ cmd: 'publish', channel, items, ...(keys === undefined ? {} : { keys }) });
  }

  async report(): Promise<ServerReport> {
    return (await this.request({ cmd: 'report' })).report as ServerReport;
  }

  /** Closes the server and waits for its process to end. */
  async close(): Promise<ChildExit> {
    if (this.exit === undefined) await this.request({ cmd: 'close' }).catch(() => {});
    return this.exited;
  }

  private request(request: DistributiveOmit<ServerRequest, 'id'>): Promise<Record<string, unknown>> {
    if (this.exit !== undefined) return Promise.reject(new Error(`the server process has ended (${describeExit(this.exit)})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) => (reply.ok === true ? resolve(reply) : reject(new Error(String(reply.error)))));
      this.child.send({ id, ...request });
    });
  }
}
