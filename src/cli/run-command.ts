import { config as rxConfig } from 'rxjs';
import { Engine } from '../runtime/engine.ts';
import { loadConfig, type EngineConfig } from '../topology/config.ts';
import { redactUrlPasswords } from '../observability/redact.ts';
import { logLevel } from './log-level.ts';
import { createLogger } from '../observability/logger.ts';
import { loadTopology } from '../topology/load-topology.ts';
import { websocketChannels, type AnyTopology } from '../topology/define-topology.ts';
import { cliPrincipal } from '../audit/audited-run.ts';

/**
 * Exit codes of `tributary run` (documented in the README):
 * 0 stopped cleanly (drained, flushed, committed); 1 a fatal error (bad configuration, a service
 * that never came back, rows a sink rejects for good), whether or not its shutdown finished;
 * 3 after a signal, the shutdown deadline passed before flushing and committing finished;
 * 130 a second SIGINT/SIGTERM cut the shutdown short.
 */
export const EXIT = { CLEAN: 0, FATAL: 1, SHUTDOWN_TIMEOUT: 3, SECOND_SIGNAL: 130 } as const;

/** `tributary run <topology>`: runs until SIGINT/SIGTERM, then drains, flushes and commits. */
export async function runCommand(file: string): Promise<void> {
  const config = loadConfig();
  const topology = await loadTopology(file);
  const logger = createLogger(`tributary:${topology.name}`, logLevel());
  logger.info(`starting ${topology.name}: ${startLine(config)}`);
  const engine = await Engine.start(topology, { config, logger, push: true, audit: { principal: cliPrincipal(), topologyFile: file } });
  // This process belongs to the engine: an error RxJS could not hand to a subscriber stops it too.
  rxConfig.onUnhandledError = (error) => engine.fail(error);
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  const port = engine.environment.pushServer?.port ?? config.port;
  let signals = 0;
  let fatal = false;
  /** Drains, flushes and commits within the deadline, then exits with `code` (or 3 past the deadline). */
  const stopAndExit = (code: number) => {
    const deadline = setTimeout(() => {
      logger.error({ phase: engine.shutdownPhase, deadlineMs: config.shutdownTimeoutMs }, 'shutdown deadline exceeded');
      process.stderr.write(
        `Shutdown did not finish within ${config.shutdownTimeoutMs} ms (TRIBUTARY_SHUTDOWN_TIMEOUT_MS); it was ${engine.shutdownPhase}. ` +
          'Offsets after the last commit are read again on restart.\n',
      );
      process.exit(fatal ? EXIT.FATAL : EXIT.SHUTDOWN_TIMEOUT);
    }, config.shutdownTimeoutMs);
    engine.stop().then(
      () => {
        clearTimeout(deadline);
        if (code === EXIT.CLEAN && !fatal) {
          process.stdout.write(`Stopped cleanly after ${engine.stats().processedRecords} records: sinks flushed, offsets committed.\n`);
        }
        process.exit(fatal ? EXIT.FATAL : code);
      },
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(EXIT.FATAL);
      },
    );
  };
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      process.stderr.write(`${signal} again: exiting at once (offsets after the last commit are read again on restart)\n`);
      process.exit(EXIT.SECOND_SIGNAL);
    }
    logger.info(`${signal}: draining, flushing sinks and committing offsets (deadline ${config.shutdownTimeoutMs} ms)`);
    stopAndExit(EXIT.CLEAN);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Only now: a signal sent as soon as this banner appears finds its handler installed.
  process.stdout.write(banner(topology, `${host}:${port}`));
  await engine.done.then(
    // A bounded source ran to its end: the engine has flushed; stop() closes the rest.
    () => signals === 0 && stopAndExit(EXIT.CLEAN),
    (error) => {
      fatal = true;
      logger.error({ err: error }, 'engine stopped with an error');
      process.stderr.write(`tributary: ${error instanceof Error ? error.message : String(error)}\n`);
      // The engine is already stopping itself; bound how long that may take.
      if (signals === 0) stopAndExit(EXIT.FATAL);
    },
  );
}

/** Where the engine connects and how (protocol, user), never a password: `starting <topology>: ...`. */
export function startLine(config: EngineConfig): string {
  const kafka = config.kafkaSecurity;
  const sasl = kafka?.sasl ? `, ${kafka.sasl.mechanism} as ${kafka.sasl.username}` : '';
  const mode = config.kafkaBrokers ? `Kafka at ${config.kafkaBrokers.join(',')} (${kafka?.protocol ?? 'PLAINTEXT'}${sasl})` : 'embedded demo (built-in generator)';
  const clickhouseUser = config.clickhouseSecurity?.username;
  const storage = config.clickhouseUrl ? `ClickHouse at ${redactUrlPasswords(config.clickhouseUrl)}${clickhouseUser ? ` as ${clickhouseUser}` : ''}` : `embedded chDB in ${config.clickhouseDataDir}`;
  const redisUser = config.redisSecurity?.username;
  const state = config.redisUrl ? `Redis at ${redactUrlPasswords(config.redisUrl)}${redisUser ? ` as ${redisUser}` : ''}` : 'in-memory state';
  return `${mode}; ${storage}; ${state}`;
}

/** What `tributary run` prints once the engine runs: where to look, subscribe and query. */
export function banner(topology: AnyTopology, address: string): string {
  const channels = websocketChannels(topology);
  const subscribe = channels.length === 0 ? '  (this topology publishes no channel)' : `  (send ${channels.map((channel) => JSON.stringify({ type: 'subscribe', channel })).join(' or ')})`;
  return (
    `\n  Tributary ${topology.name} is running.\n` +
    `  Dashboard:  http://${address}/\n` +
    `  WebSocket:  ws://${address}/ws${subscribe}\n` +
    `  Metrics:    http://${address}/metrics  (health: /healthz, /readyz)\n` +
    `  SQL:        tributary query "SELECT ..."  (read-only, POST http://${address}/sql)\n` +
    '  Stop with Ctrl-C.\n\n'
  );
}
