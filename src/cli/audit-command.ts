import type { Command } from 'commander';
import path from 'node:path';
import { readAuditTable } from '../audit/audit-table.ts';
import { verifyChain } from '../audit/verify-chain.ts';
import { crossCheck, readAuditLines, verifyAuditFile } from '../audit/verify-log.ts';
import { connectClickHouse } from '../clickhouse/connection.ts';
import { ConfigError } from '../core/errors.ts';
import { silentLogger } from '../observability/logger.ts';
import { loadConfig } from '../topology/config.ts';
import { parseTime } from './time-option.ts';

interface VerifyOptions {
  file?: string;
  clickhouse?: boolean;
}

interface ShowOptions {
  file?: string;
  since?: string;
  action?: string;
  limit: string;
}

/** `tributary audit verify|show`: check the audit log's hash chain; print its entries. */
export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('the audit trail: verify its hash chain, show its entries');
  audit
    .command('verify')
    .description('recompute the hash chain of the audit log; exit 0 when intact, 1 naming the first entry that does not match')
    .option('--file <path>', 'the audit log (default TRIBUTARY_AUDIT_LOG, else data/audit/audit.jsonl)')
    .option('--clickhouse', "also verify the log's copy in the ClickHouse table (TRIBUTARY_AUDIT_TABLE) and compare it with the file")
    .action(async (options: VerifyOptions) => process.exit(await verifyCommand(options)));
  audit
    .command('show')
    .description('print entries of the audit log, oldest first')
    .option('--file <path>', 'the audit log (default TRIBUTARY_AUDIT_LOG)')
    .option('--since <time>', 'entries from this time (ISO-8601 with zone, a date, or epoch ms)')
    .option('--action <prefix>', "entries whose action starts with this, e.g. model. or sql.query")
    .option('--limit <n>', 'at most this many (the newest)', '100')
    .action((options: ShowOptions) => showCommand(options));
}

/** Prints the verdict; returns the exit code. */
export async function verifyCommand(options: VerifyOptions): Promise<number> {
  const config = loadConfig();
  const file = path.resolve(options.file ?? config.audit.file);
  const result = await verifyAuditFile(file);
  if (!result.ok) {
    process.stdout.write(`audit log ${file}: NOT intact after ${result.entries} good entries\n${result.problem.message}\n`);
    return 1;
  }
  process.stdout.write(`audit log ${file}: ${result.entries} entries, chain intact; last seq ${result.lastSeq}, last hash ${result.lastHash}\n`);
  if (!options.clickhouse) return 0;
  const table = config.audit.table;
  if (table === null) throw new ConfigError('TRIBUTARY_AUDIT_TABLE', 'is off, so there is no table to verify', 'set TRIBUTARY_AUDIT_TABLE to the table the engine writes (default audit_log), or leave out --clickhouse');
  const client = await connectClickHouse({ url: config.clickhouseUrl, dataDir: config.clickhouseDataDir, logger: silentLogger });
  try {
    const rows = await readAuditTable(client, table, file);
    const copy = verifyChain(rows.map((row) => row.entry));
    const mismatch = copy.ok ? crossCheck(result.lines, rows) : copy.problem.message;
    if (mismatch !== undefined) {
      process.stdout.write(`table ${table}: NOT intact\n${mismatch}\n`);
      return 1;
    }
    process.stdout.write(`table ${table}: ${rows.length} entries, chain intact and equal to the file\n`);
    return 0;
  } finally {
    await client.close();
  }
}

async function showCommand(options: ShowOptions): Promise<void> {
  const file = path.resolve(options.file ?? loadConfig().audit.file);
  const since = options.since === undefined ? undefined : parseTime(options.since, '--since');
  const limit = Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new ConfigError('--limit', `"${options.limit}" is not a number of entries`, 'give a whole number of at least 1, e.g. --limit 50');
  const { lines } = await readAuditLines(file);
  const shown: string[] = [];
  for (const line of lines) {
    let entry: { seq: number; time: number; action: string; principal: string; target?: string; outcome: string; reason?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // `audit verify` reports it
    }
    if (since !== undefined && entry.time < since) continue;
    if (options.action !== undefined && !entry.action.startsWith(options.action)) continue;
    const reason = entry.reason === undefined ? '' : `  (${entry.reason})`;
    shown.push(`${entry.seq}\t${new Date(entry.time).toISOString()}\t${entry.principal}\t${entry.action}\t${entry.target ?? '-'}\t${entry.outcome}${reason}`);
  }
  process.stdout.write(shown.slice(-limit).map((text) => `${text}\n`).join(''));
}
