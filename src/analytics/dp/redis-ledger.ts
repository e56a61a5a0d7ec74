import type { Redis } from 'ioredis';
import { ConnectionError, errorMessage } from '../../core/errors.ts';
import type { BudgetLedger } from './budget-ledger.ts';

/** Check and add in one script: Redis runs it atomically, so no two queries see the same total. */
const SPEND = `
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if spent + cost > tonumber(ARGV[2]) then return {0, spent} end
return {1, redis.call('INCRBY', KEYS[1], cost)}
`;

/**
 * The budget ledger in Redis: one integer per principal under a prefix (default
 * `tributary:dp:spent:`), durable as the server's persistence (AOF with fsync for a ledger that
 * must survive a Redis crash: README "Data protection"). Failures are retriable ConnectionErrors.
 */
export class RedisBudgetLedger implements BudgetLedger {
  readonly description: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'tributary:dp:spent:',
  ) {
    this.description = `Redis ${prefix}*`;
  }

  async spend(principal: string, cost: number, limit: number): Promise<{ accepted: boolean; spent: number }> {
    const [accepted, spent] = (await this.call('spending budget', () => this.redis.eval(SPEND, 1, this.key(principal), String(cost), String(limit)))) as [number, number];
    return { accepted: accepted === 1, spent: Number(spent) };
  }

  async spent(principal: string): Promise<number> {
    return Number((await this.call('reading budget', () => this.redis.get(this.key(principal)))) ?? 0);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(principal: string): string {
    // Principals are free text (JWT subjects): encoded, so none can reach another's key.
    return this.prefix + encodeURIComponent(principal);
  }

  private async call<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new ConnectionError('Redis', `DP budget ledger: ${what} failed: ${errorMessage(error)}`, error);
    }
  }
}
