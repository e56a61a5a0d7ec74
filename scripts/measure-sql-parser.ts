/**
 * What ClickHouse's parser costs a process that queries a ClickHouse server (issue 12): the RSS
 * added by loading chDB and opening its parser instance on the first analyst query, and the time
 * of the parse steps (format twice, EXPLAIN AST) per query once it is open. The server is not
 * needed: only the parser runs.
 *
 *   node --import tsx scripts/measure-sql-parser.ts [--queries 200]
 */
import { Command } from 'commander';
import { connectClickHouse } from '../src/clickhouse/connection.ts';
import { closeSqlParser, lendParser } from '../src/analytics/parser-session.ts';

const { queries } = new Command()
  .option('--queries <n>', 'queries parsed after the first', (v) => Number(v), 200)
  .parse()
  .opts<{ queries: number }>();
void connectClickHouse; // imported as the engine does: chDB must not load with it
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const text = 'SELECT cardId, count() AS payments, uniqExact(country) AS countries FROM payments FINAL WHERE amount > 10 GROUP BY cardId ORDER BY payments DESC LIMIT 10';

const before = process.memoryUsage().rss;
let started = performance.now();
const first = await lendParser();
await first.parser.explainAst(await first.parser.canonical(text));
await first.release();
const firstMs = performance.now() - started;
const afterFirst = process.memoryUsage().rss;
started = performance.now();
for (let i = 0; i < queries; i++) {
  const lent = await lendParser();
  await lent.parser.explainAst(await lent.parser.canonical(`${text} -- ${i}`));
  await lent.release();
}
const perQuery = (performance.now() - started) / queries;
const afterAll = process.memoryUsage().rss;
closeSqlParser();
console.log(`RSS before the first query ${mb(before)}; after it ${mb(afterFirst)} (+${mb(afterFirst - before)}, ${firstMs.toFixed(0)} ms including loading chDB)`);
console.log(`${queries} more queries: ${perQuery.toFixed(1)} ms each to parse and explain; RSS ${mb(afterAll)} (+${mb(afterAll - afterFirst)} over them)`);
