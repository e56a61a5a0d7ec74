import { Command, Option } from 'commander';
import { TributaryError } from '../core/errors.ts';
import { runCommand } from './run-command.ts';
import { OUTPUT_FORMATS, queryCommand, type QueryCommandOptions } from './query-command.ts';
import { registerBackfillCommand } from './backfill-command.ts';
import { registerTrainCommand } from './train-command.ts';
import { registerModelsCommand } from './models-command.ts';
import { registerScoreBatchCommand } from './score-batch-command.ts';
import { registerJobsCommand, registerScheduleCommand } from './schedule-command.ts';
import { registerInitCommand } from './init-command.ts';
import { registerEraseCommand } from './erase-command.ts';
import { registerAuditCommand } from './audit-command.ts';
import { registerAuditParityCommand } from './audit-parity-command.ts';

const program = new Command()
  .name('tributary')
  .description('Stream processing for hybrid online + batch ML serving: Kafka → event-time windows → ONNX → ClickHouse, Redis, WebSockets')
  .showHelpAfterError();

program
  .command('run')
  .argument('[topology]', 'topology module (default export from defineTopology)', 'topologies/card-fraud.ts')
  .description('run a topology: on Kafka when KAFKA_BROKERS is set, else on its built-in demo generator')
  .action((topology: string) => runCommand(topology));

program
  .command('query')
  .argument('<sql>', 'one SELECT statement (WITH, UNION, joins and subqueries allowed)')
  .description("query the engine's ClickHouse tables through its SQL endpoint; with no engine running, read CLICKHOUSE_URL or the chDB directory directly")
  .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
  .option('--url <url>', 'base URL of a running engine (default http://HOST:PORT from the environment)')
  .option('--token <token>', 'bearer token of the SQL endpoint (default TRIBUTARY_SQL_TOKEN)')
  .option('--dp', 'differential privacy: <sql> is a DP query as JSON, e.g. \'{"table":"t","aggregate":"count","groupBy":"merchant","epsilon":0.5}\' (needs a running engine)')
  .option('--detokenize', "admins: tokens in the answer come back in clear (needs a running engine with data protection; token default TRIBUTARY_SQL_ADMIN_TOKEN)")
  .action((sql: string, options: QueryCommandOptions) => queryCommand(sql, options));

registerInitCommand(program);

// Data protection: erasure of subjects by crypto-shredding.
registerEraseCommand(program);

// The model lifecycle's batch side: backfill, training, the registry, batch scoring, and their schedule.
registerBackfillCommand(program);
registerTrainCommand(program);
registerModelsCommand(program);
registerScoreBatchCommand(program);
registerScheduleCommand(program);
registerJobsCommand(program);
registerAuditCommand(program);
// Audits under `tributary audit` (each registers into the group, see audit-group.ts).
registerAuditParityCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof TributaryError) {
    process.stderr.write(`tributary: ${error.message}\n`);
  } else {
    process.stderr.write(`tributary: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
