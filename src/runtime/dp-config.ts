import { join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { BudgetLedger } from '../analytics/dp/budget-ledger.ts';
import { FileBudgetLedger } from '../analytics/dp/file-ledger.ts';
import { RedisBudgetLedger } from '../analytics/dp/redis-ledger.ts';
import { loadDpEnvironment, type DpSettings } from '../analytics/dp/dp-settings.ts';
import type { Logger } from '../observability/logger.ts';
import { connectRedis } from '../state/redis-connection.ts';
import type { EngineConfig } from '../topology/config.ts';
import { redisTarget } from '../topology/connection-config.ts';

/**
 * The DP mode of POST /sql from the environment (README, "Data protection"): on when
 * TRIBUTARY_DP_SUBJECT names the subject column; the ledger is TRIBUTARY_DP_LEDGER ('redis':
 * REDIS_URL with its credentials and TLS; else a file path), by default dp-ledger.json beside
 * the chDB data directory. Undefined when off.
 */
export async function openDpSettings(config: EngineConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DpSettings | undefined> {
  const dp = loadDpEnvironment(env);
  if (dp.subjectColumn === undefined) return undefined;
  let ledger: BudgetLedger;
  if (dp.ledger === 'redis') {
    const redis = redisTarget(config);
    if (redis === undefined) throw new ConfigError('TRIBUTARY_DP_LEDGER', "the DP budget ledger is 'redis', but no Redis server is configured", 'set REDIS_URL, or give a file path');
    ledger = new RedisBudgetLedger(await connectRedis(redis, { logger, purpose: 'the DP budget ledger', commandTimeoutMs: 2_000, maxReconnectDelayMs: 2_000 }));
  } else {
    ledger = new FileBudgetLedger(dp.ledger ?? join(config.clickhouseDataDir, '..', 'dp-ledger.json'));
  }
  logger.info({ subject: dp.subjectColumn, ledger: ledger.description, budget: dp.budgetMicro / 1e6 }, 'POST /sql?dp=1 answers DP queries');
  return { ...dp, subjectColumn: dp.subjectColumn, ledger };
}
