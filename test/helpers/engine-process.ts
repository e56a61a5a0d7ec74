import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './services.ts';

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

/** One engine process running the card-fraud topology through the CLI (test/fixtures/card-fraud-from-env.ts). */
export function startEngineProcess(env: NodeJS.ProcessEnv): EngineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', 'test/fixtures/card-fraud-from-env.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
