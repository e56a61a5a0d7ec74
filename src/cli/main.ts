import { Command } from 'commander';
import { TributaryError } from '../core/errors.ts';
import { runCommand } from './run-command.ts';

const program = new Command()
  .name('tributary')
  .description('Stream processing for hybrid online + batch ML serving: Kafka → event-time windows → ONNX → ClickHouse, Redis, WebSockets')
  .showHelpAfterError();

program
  .command('run')
  .argument('[topology]', 'topology module (default export from defineTopology)', 'topologies/card-fraud.ts')
  .description('run a topology: on Kafka when KAFKA_BROKERS is set, else on its built-in demo generator')
  .action((topology: string) => runCommand(topology));

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof TributaryError) {
    process.stderr.write(`tributary: ${error.message}\n`);
  } else {
    process.stderr.write(`tributary: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
