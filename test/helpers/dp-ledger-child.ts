import { Redis } from 'ioredis';
import { FileBudgetLedger } from '../../src/analytics/dp/file-ledger.ts';
import { RedisBudgetLedger } from '../../src/analytics/dp/redis-ledger.ts';
import type { BudgetLedger } from '../../src/analytics/dp/budget-ledger.ts';

/**
 * A separate process on a budget ledger: `<file PATH | redis URL PREFIX> PRINCIPAL SPENDS COST LIMIT`
 * makes SPENDS concurrent spends of COST (0: only reads) and prints {"accepted": n, "spent": total}.
 */
const args = process.argv.slice(2);
let ledger: BudgetLedger;
let rest: string[];
if (args[0] === 'file') {
  ledger = new FileBudgetLedger(args[1]!);
  rest = args.slice(2);
} else {
  ledger = new RedisBudgetLedger(new Redis(args[1]!, { lazyConnect: false }), args[2]!);
  rest = args.slice(3);
}
const [principal, spends, cost, limit] = [rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3])];
const results = await Promise.all(Array.from({ length: spends }, () => ledger.spend(principal, cost, limit)));
const spent = await ledger.spent(principal);
await ledger.close();
process.stdout.write(JSON.stringify({ accepted: results.filter((r) => r.accepted).length, spent }) + '\n');
