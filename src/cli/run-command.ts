import { Engine } from '../runtime/engine.ts';
import { loadConfig } from '../topology/config.ts';
import { createLogger } from '../observability/logger.ts';
import { loadTopology } from './load-topology.ts';

/** `tributary run <topology>`: runs until SIGINT/SIGTERM, then drains, flushes and commits. */
export async function runCommand(file: string): Promise<void> {
  const config = loadConfig();
  const topology = await loadTopology(file);
  const logger = createLogger(`tributary:${topology.name}`);
  const mode = config.kafkaBrokers ? `Kafka at ${config.kafkaBrokers.join(',')}` : 'embedded demo (built-in generator)';
  const storage = config.clickhouseUrl ? `ClickHouse at ${config.clickhouseUrl}` : `embedded chDB in ${config.clickhouseDataDir}`;
  const state = config.redisUrl ? `Redis at ${config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')}` : 'in-memory state';
  logger.info(`starting ${topology.name}: ${mode}; ${storage}; ${state}`);
  const engine = await Engine.start(topology, { config, logger });
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  const port = engine.environment.pushServer?.port ?? config.port;
  process.stdout.write(`\n  Tributary ${topology.name} is running.\n  Dashboard:  http://${host}:${port}/\n  WebSocket:  ws://${host}:${port}/ws  (send {"type":"subscribe","channel":"fraud"})\n  Metrics:    http://${host}:${port}/metrics\n  Stop with Ctrl-C.\n\n`);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(130);
    logger.info(`${signal}: draining, flushing sinks and committing offsets`);
    engine.stop().then(
      () => {
        const stats = engine.stats();
        process.stdout.write(`Stopped cleanly after ${stats.processedRecords} records: sinks flushed, offsets committed.\n`);
        process.exit(0);
      },
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  await engine.done.catch((error) => {
    logger.error({ err: error }, 'engine stopped with an error');
    process.exitCode = 1;
  });
}
