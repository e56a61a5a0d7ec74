import { spawn, type ChildProcess } from 'node:child_process';
import type { EngineConfig } from '../../src/topology/config.ts';
import { REPO_ROOT } from './services.ts';

/**
 * The environment of an engine process running test/fixtures/card-fraud-from-env.ts on the real
 * services with durable window state, checkpoints every 400 ms and commits every 200 ms.
 */
export function durableEngineEnv(options: { config: EngineConfig; groupId: string; topic: string; prefix: string }): NodeJS.ProcessEnv {
  const { config, groupId, topic, prefix } = options;
  return {
    ...process.env,
    KAFKA_BROKERS: config.kafkaBrokers!.join(','),
    CLICKHOUSE_URL: config.clickhouseUrl,
    REDIS_URL: config.redisUrl,
    PORT: '0',
    TRIBUTARY_GROUP_ID: groupId,
    TRIBUTARY_WINDOW_STATE: 'redis',
    TRIBUTARY_CHECKPOINT_INTERVAL_MS: '400',
    TRIBUTARY_COMMIT_INTERVAL_MS: '200',
    TRIBUTARY_MAX_IN_FLIGHT: '4000',
    FRAUD_TEST_TOPIC: topic,
    FRAUD_TEST_PREFIX: prefix,
  };
}

/** The environment of the embedded default (`npm start`): no service variables, chDB in `dataDir`. */
export function embeddedEngineEnv(port: number, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CLICKHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  delete env.KAFKA_BROKERS;
  delete env.CLICKHOUSE_URL;
  delete env.REDIS_URL;
  return env;
}

export interface EngineProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The partitions of its latest group assignment (from its 'partitions assigned' log lines). */
  assigned: () => string[];
  /** Partitions it restored from a checkpoint (its 'resuming window state from checkpoint' log lines). */
  resumed: () => string[];
}

/** Log lines of one message, parsed (the CLI logs JSON lines when stdout is not a terminal). */
function logLines(output: string, message: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.includes(message))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** One engine process running a topology through the CLI (default test/fixtures/card-fraud-from-env.ts). */
export function startEngineProcess(env: NodeJS.ProcessEnv, topologyFile = 'test/fixtures/card-fraud-from-env.ts'): EngineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', topologyFile], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    assigned: () => (logLines(output, 'partitions assigned').at(-1)?.partitions as string[] | undefined) ?? [],
    resumed: () => logLines(output, 'resuming window state from checkpoint').map((line) => line.partition as string),
  };
}
