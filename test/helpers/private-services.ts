import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './services.ts';
import { freePorts } from './free-port.ts';

const run = promisify(execFile);

export type ServiceName = 'kafka' | 'clickhouse' | 'redis';

/**
 * A private Kafka + ClickHouse + Redis on free ports, started by scripts/services.sh with its own
 * state dir, for fault tests that stop and restart services: the shared ones other test files
 * use in parallel are never touched.
 */
export class PrivateServices {
  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
    readonly kafkaBrokers: string,
    readonly clickhouseUrl: string,
    readonly redisUrl: string,
  ) {}

  static async start(): Promise<PrivateServices> {
    const [kafka, controller, http, tcp, redis] = await freePorts(5);
    const dir = mkdtempSync(path.join(tmpdir(), 'tributary-faults-'));
    const env = {
      ...process.env,
      TRIBUTARY_SERVICES_DIR: dir,
      KAFKA_PORT: String(kafka),
      KAFKA_CONTROLLER_PORT: String(controller),
      CLICKHOUSE_HTTP_PORT: String(http),
      CLICKHOUSE_TCP_PORT: String(tcp),
      REDIS_PORT: String(redis),
      KAFKA_HEAP_OPTS: '-Xms64m -Xmx384m',
      // Fault tests need only the plain endpoints; the secured ones (default ports) belong to the shared services.
      TRIBUTARY_SECURE_SERVICES: '0',
      TRIBUTARY_NEED_BROWSER: '0',
    };
    const services = new PrivateServices(env, dir, `127.0.0.1:${kafka}`, `http://127.0.0.1:${http}`, `redis://127.0.0.1:${redis}`);
    await services.script('start');
    services.watchdog();
    return services;
  }

  /**
   * Stops the services if this process dies without running its clean-up (a test runner that
   * kills a timed-out file): a detached shell polls this pid, then runs services.sh stop.
   */
  private watchdog(): void {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; [ -d "$TRIBUTARY_SERVICES_DIR" ] && bash ${JSON.stringify(path.join(REPO_ROOT, 'scripts/services.sh'))} stop; rm -rf "$TRIBUTARY_SERVICES_DIR"`;
    spawn('bash', ['-c', script], { env: this.env, detached: true, stdio: 'ignore' }).unref();
  }

  /** Whether `service` accepts TCP connections now (a fault test waits for it to be really down). */
  reachable(service: ServiceName): Promise<boolean> {
    const address = service === 'kafka' ? this.kafkaBrokers : service === 'clickhouse' ? new URL(this.clickhouseUrl).host : new URL(this.redisUrl).host;
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    return new Promise((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  }

  /** Stops `service`, keeps it down for `downSeconds`, starts it again with its data kept. */
  async restart(service: ServiceName, downSeconds: number): Promise<void> {
    await this.script('restart', service, String(downSeconds));
  }

  async stop(): Promise<void> {
    await this.script('stop').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async script(...args: string[]): Promise<void> {
    try {
      await run('bash', [path.join(REPO_ROOT, 'scripts/services.sh'), ...args], { env: this.env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`services.sh ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
    }
  }
}

