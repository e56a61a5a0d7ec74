import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/runtime/engine.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { REPO_ROOT, SCHEMAS_DIR, waitFor } from '../helpers/services.ts';

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr?: string; rawSql?: string }>;
}

async function panels(file: string): Promise<Panel[]> {
  const dashboard = JSON.parse(await readFile(path.join(REPO_ROOT, 'deploy/grafana/dashboards', file), 'utf8')) as { panels: Panel[] };
  return dashboard.panels.filter((panel) => panel.type !== 'row');
}

test("every PromQL expression of the engine dashboard parses (promtool check rules), Grafana's variables filled in", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tributary-promql-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rules: string[] = [];
  for (const panel of await panels('tributary-engine.json')) {
    for (const target of panel.targets!) rules.push(target.expr!.replaceAll('$__rate_interval', '1m').replaceAll('$topology', '.*'));
  }
  assert.ok(rules.length >= 40);
  // JSON is YAML: one recording rule per expression.
  const file = path.join(dir, 'rules.yml');
  await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: rules.map((expr, i) => ({ record: `dashboard:expr_${i}`, expr })) }] }));
  const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  assert.ok(!result.error, `promtool is not installed (${result.error?.message}); run \`TRIBUTARY_NEED_PROMTOOL=1 bash scripts/services.sh start\``);
  assert.equal(result.status, 0, `promtool check rules:\n${result.stdout}${result.stderr}`);
  assert.match(result.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('every SQL query of the ClickHouse dashboard runs on a current ClickHouse (chDB) over the card-fraud tables the embedded demo fills', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tributary-grafana-sql-'));
  const engine = await Engine.start(createCardFraudTopology({ demoSeed: 3, demoRate: 400 }), {
    config: { clickhouseDataDir: dataDir, port: 0, host: '127.0.0.1', maxInFlightRecords: 20_000, commitIntervalMs: 1_000, schemasDir: SCHEMAS_DIR, windowState: 'memory', checkpointIntervalMs: 1_000, maxOpenWindows: 5_000_000, shutdownTimeoutMs: 30_000, audit: { file: path.resolve('data/test-audit/audit.jsonl'), table: null } },
    logger: silentLogger,
    push: false,
  });
  t.after(async () => {
    await engine.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const client = await engine.environment.sinkEnvironment.clickhouse();
  const count = async (table: string) => Number(((await (await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json()) as Array<{ n: string }>)[0]!.n);
  await waitFor('predictions in chDB', () => count('fraud_predictions'), (n) => n > 0, 90_000);

  // Grafana's macro over the last three hours (the generator runs at most 20 minutes behind).
  const timeFilter = (column: string) => `${column} >= now() - INTERVAL 3 HOUR AND ${column} <= now() + INTERVAL 1 HOUR`;
  const rowsByPanel = new Map<string, number>();
  for (const panel of await panels('tributary-clickhouse.json')) {
    for (const target of panel.targets!) {
      const sql = target.rawSql!.replace(/\$__timeFilter\((\w+)\)/g, (_, column: string) => timeFilter(column));
      const rows = await (await client.query({ query: sql, format: 'JSONEachRow' })).json();
      rowsByPanel.set(panel.title, rows.length);
    }
  }
  for (const title of ['Payments per minute', 'Top merchants', 'Fraud rate per minute', 'Score distribution', 'Highest-risk cards', 'Predictions by model and source', 'Card features per minute']) {
    assert.ok((rowsByPanel.get(title) ?? 0) > 0, `"${title}" shows data (${rowsByPanel.get(title)} rows)`);
  }
  assert.equal(rowsByPanel.size, (await panels('tributary-clickhouse.json')).length);
});
