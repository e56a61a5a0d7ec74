import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../observability/logger.ts';

const PINO_LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields of a child's pino line that the parent's logger writes itself. */
const OWN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/**
 * Logs each line the job writes on `stream`, tagged with the job's name. A Tributary command
 * logs pino JSON: such a line is logged again at its own level with its fields, rather than as a
 * JSON string inside a JSON line. Other stdout lines (summaries, tables) are info and stderr
 * lines warn. Resolves when the stream ends.
 */
export function logLines(input: Readable, stream: 'stdout' | 'stderr', job: string, logger: Logger): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const parsed = pinoLine(line);
    if (parsed) {
      const fields: Record<string, unknown> = { job, stream };
      for (const [key, value] of Object.entries(parsed.record)) if (!OWN_FIELDS.has(key)) fields[key] = value;
      logger[parsed.level](fields, parsed.msg);
    } else if (stream === 'stdout') {
      logger.info({ job, stream }, line);
    } else {
      logger.warn({ job, stream }, line);
    }
  });
  return new Promise((resolve) => lines.once('close', resolve));
}

function pinoLine(line: string): { level: (typeof PINO_LEVELS)[number]; msg: string; record: Record<string, unknown> } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const level = PINO_LEVELS[record.level as number];
    if (level === undefined) return undefined;
    return { level, msg: typeof record.msg === 'string' ? record.msg : '', record };
  } catch {
    return undefined;
  }
}
