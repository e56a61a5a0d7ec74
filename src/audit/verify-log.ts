import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/errors.ts';
import { verifyChain, type ChainResult } from './verify-chain.ts';

/** The lines of an audit log file; a last line without its newline is marked (a torn append). */
export async function readAuditLines(file: string): Promise<{ lines: string[]; torn: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError('TRIBUTARY_AUDIT_LOG', `there is no audit log at ${file}`, 'give the file the engine writes (--file, or TRIBUTARY_AUDIT_LOG; default data/audit/audit.jsonl)');
    throw error;
  }
  if (text === '') return { lines: [], torn: false };
  const lines = text.split('\n');
  const torn = lines.at(-1) !== '';
  if (!torn) lines.pop();
  return { lines, torn };
}

/** Verifies a file's chain (verify-chain.ts). */
export async function verifyAuditFile(file: string): Promise<ChainResult & { lines: string[] }> {
  const { lines, torn } = await readAuditLines(file);
  const result = verifyChain(lines);
  if (result.ok || !torn || result.problem.line !== lines.length) return { ...result, lines };
  const problem = { ...result.problem, message: `the last line (${lines.length}) is incomplete: a writer died while appending it (never acknowledged; the next append cuts it off)` };
  return { ...result, problem, lines };
}

/**
 * The table's rows against the file's lines, once both chains verified: every row must be the
 * file's entry of the same seq, and the file must reach the table's last seq (so deleting the
 * newest entries of the file, which no chain can show by itself, is caught).
 */
export function crossCheck(fileLines: readonly string[], rows: ReadonlyArray<{ seq: number; entry: string }>): string | undefined {
  for (const row of rows) {
    if (row.seq > fileLines.length) {
      const last = rows.at(-1)!.seq;
      return `the file ends at seq ${fileLines.length} but the table holds entries up to seq ${last}: entry seq ${row.seq}${last > row.seq ? ` to ${last}` : ''} deleted from the end of the file`;
    }
    if (fileLines[row.seq - 1] !== row.entry) return `entry seq ${row.seq} (line ${row.seq}) differs between the file and the table: one of them was edited`;
  }
  return undefined;
}
