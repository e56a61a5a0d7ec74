import { pino } from 'pino';
import type { Command } from 'commander';
import { eraseTopologySubjects, type EraseSummary } from '../runtime/erase-subjects.ts';
import { loadConfig } from '../topology/config.ts';
import { loadTopology } from '../topology/load-topology.ts';
import { withCliAudit } from './cli-audit.ts';

/**
 * `tributary erase --subject <id>... [--topology <file>]`: crypto-shredding of subjects (README
 * "Data protection"), one audit entry per subject in the audit log (and its ClickHouse copy when
 * CLICKHOUSE_URL names a server: a running embedded engine holds the chDB directory).
 */
export function registerEraseCommand(program: Command): Command {
  return program
    .command('erase')
    .description("erase subjects: destroy each one's data key (every token of it becomes unreadable everywhere), delete its online state, record the erasure in the audit trail")
    .requiredOption('--subject <id...>', 'the subject id(s) as the data names them, e.g. a card id')
    .option('--topology <file>', 'topology module whose online state prefixes to clear', 'topologies/card-fraud.ts')
    .action(async (options: { subject: string[]; topology: string }) => {
      const config = loadConfig();
      const topology = await loadTopology(options.topology);
      const logger = pino({ name: 'tributary:erase', level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: true }));
      await withCliAudit('server', async (audit) => {
        const summary = await eraseTopologySubjects(topology, options.subject, { config, logger, audit: audit.trail, principal: audit.principal });
        process.stdout.write(describe(summary, options.subject));
      }, config);
    });
}

function describe(summary: EraseSummary, ids: readonly string[]): string {
  const lines = summary.reports.map((report, i) => {
    const key = report.keyDestroyed ? 'data key destroyed' : 'no data key was stored (nothing of it was tokenized)';
    const state = report.stateKeysDeleted.length > 0 ? `online state deleted: ${report.stateKeysDeleted.join(', ')}` : 'no online state';
    return `erased ${ids[i]} (subject ${report.subject}): ${key}; ${state}\n`;
  });
  const where = `key store: ${summary.keyStore}; state: ${summary.stateStore ?? 'in memory (nothing to delete from this process)'}\n`;
  return `${lines.join('')}${where}${summary.reports.length} erasure(s) recorded in the audit trail\n`;
}
