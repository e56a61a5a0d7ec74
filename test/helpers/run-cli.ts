import { spawn } from 'node:child_process';
import { REPO_ROOT } from './services.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tributary <args>` (src/cli/main.ts) as a child process in the repository root. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runNode(['src/cli/main.ts', ...args], env);
}

/** Runs a TypeScript file with tsx as a child process in the repository root. */
export function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
