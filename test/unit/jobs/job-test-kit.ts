import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Logger } from '../../../src/observability/logger.ts';

/** The entry that replaces the Tributary CLI in job tests: a plain Node script (fake-job.mjs). */
export const FAKE_JOB: readonly string[] = [process.execPath, fileURLToPath(new URL('./fake-job.mjs', import.meta.url))];

export interface Captured {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  messages: () => string[];
}

/** A logger whose JSON lines are kept for assertions. */
export function captureLogger(): Captured {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines, messages: () => lines.map((line) => String(line.msg)) };
}

export interface JobRecord {
  pid: number;
  args: string[];
  start: number;
  end: number;
  nice: number;
  heapMb: number;
}

/** A fresh file for fake jobs' --record lines. */
export function recordFile(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'tributary-jobs-')), 'runs.jsonl');
}

export function readRecords(file: string): JobRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as JobRecord);
}
