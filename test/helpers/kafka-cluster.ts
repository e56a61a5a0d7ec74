import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { REPO_ROOT } from './services.ts';
import { freePorts } from './free-port.ts';

const run = promisify(execFile);

/**
 * A replicated 3-node Kafka cluster (KRaft, combined quorum, replication factor 3,
 * min.insync.replicas=2) on free loopback ports with its own state dir, started by
 * `scripts/services.sh start-cluster` for one test file and stopped by it. Nodes are numbered 1-3.
 */
export class KafkaCluster {
  /** Seconds `start-cluster` took (format and start of three nodes). */
  startSeconds = 0;
  private admin: Admin | null = null;

  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
    readonly ports: number[],
  ) {}

  static async start(): Promise<KafkaCluster> {
    const ports = await freePorts(6);
    const dir = mkdtempSync(path.join(tmpdir(), 'tributary-cluster-'));
    const env = { ...process.env, TRIBUTARY_SERVICES_DIR: dir, KAFKA_CLUSTER_PORTS: ports.slice(0, 3).join(','), KAFKA_CLUSTER_CONTROLLER_PORTS: ports.slice(3).join(','), TRIBUTARY_SECURE_SERVICES: '0' };
    const cluster = new KafkaCluster(env, dir, ports.slice(0, 3));
    cluster.watchdog();
    const started = performance.now();
    await cluster.script('start-cluster');
    cluster.startSeconds = (performance.now() - started) / 1000;
    return cluster;
  }

  /** host:port of every node. */
  get brokers(): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}`);
  }

  /** SIGKILL node `n` (1-3); resolves once its processes are gone. */
  killBroker(n: number): Promise<void> {
    return this.script('kill-broker', String(n));
  }

  /** Starts node `n` again on its data; resolves once it serves. */
  restartBroker(n: number): Promise<void> {
    return this.script('restart-broker', String(n));
  }

  /** The node leading each partition of `topic`, as the cluster's metadata says now (-1: none). */
  async leaders(topic: string): Promise<Map<number, number>> {
    if (this.admin === null) {
      this.admin = new Kafka({ clientId: 'cluster-test', brokers: this.brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
      await this.admin.connect();
    }
    const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
    return new Map(topics[0]!.partitions.map((p) => [p.partitionId, p.leader]));
  }

  async stop(): Promise<void> {
    await this.admin?.disconnect().catch(() => {});
    await this.script('stop-cluster').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stops the nodes if this process dies without its clean-up (a test runner killing a timed-out file). */
  private watchdog(): void {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; [ -d "$TRIBUTARY_SERVICES_DIR" ] && bash ${JSON.stringify(path.join(REPO_ROOT, 'scripts/services.sh'))} stop-cluster; rm -rf "$TRIBUTARY_SERVICES_DIR"`;
    spawn('bash', ['-c', script], { env: this.env, detached: true, stdio: 'ignore' }).unref();
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
