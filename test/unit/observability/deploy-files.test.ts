import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metrics } from '../../../src/observability/metrics.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DASHBOARDS = path.join(ROOT, 'deploy/grafana/dashboards');
const CARD_FRAUD_TABLES = ['payments', 'card_features', 'fraud_predictions', 'late_records', 'dead_letters'];

/** YAML through Python's PyYAML (Debian python3-yaml): Node has no YAML parser in this project. */
function readYaml(file: string): any {
  const result = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', path.join(ROOT, file)], { encoding: 'utf8' });
  assert.equal(result.status, 0, `parsing ${file} as YAML failed (needs python3 with PyYAML: apt-get install python3-yaml): ${result.error?.message ?? result.stderr}`);
  return JSON.parse(result.stdout);
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr?: string; rawSql?: string; editorType?: string; datasource?: { uid: string } }>;
}

function dashboard(file: string): { uid: string; title: string; panels: Panel[] } {
  return JSON.parse(readFileSync(path.join(DASHBOARDS, file), 'utf8'));
}

test('docker-compose.yml runs Prometheus on the engine and Grafana with the provisioning and dashboards in deploy/', () => {
  const compose = readYaml('docker-compose.yml');
  const { engine, prometheus, grafana } = compose.services;
  assert.ok(engine && prometheus && grafana);
  assert.equal(engine.environment.PORT, '8080');
  const mounts = (service: { volumes: string[] }) => new Map(service.volumes.map((volume) => volume.split(':') as [string, string, string?]).map(([from, to]) => [to, from]));
  const prometheusConfig = mounts(prometheus).get('/etc/prometheus/prometheus.yml');
  assert.equal(prometheusConfig, './deploy/prometheus/prometheus.yml');
  const grafanaMounts = mounts(grafana);
  assert.equal(grafanaMounts.get('/etc/grafana/provisioning'), './deploy/grafana/provisioning');
  assert.equal(grafanaMounts.get('/var/lib/grafana/dashboards'), './deploy/grafana/dashboards');
  for (const from of [prometheusConfig!, ...grafanaMounts.values()]) assert.ok(existsSync(path.join(ROOT, from)), `${from} exists`);
  assert.match(grafana.environment.GF_PLUGINS_PREINSTALL_SYNC, /grafana-clickhouse-datasource/);

  const scrape = readYaml('deploy/prometheus/prometheus.yml');
  const job = scrape.scrape_configs.find((c: { job_name: string }) => c.job_name === 'tributary');
  assert.equal(job.metrics_path, '/metrics');
  assert.deepEqual(job.static_configs[0].targets, [`engine:${engine.environment.PORT}`]);

  const providers = readYaml('deploy/grafana/provisioning/dashboards/dashboards.yml').providers;
  assert.equal(providers[0].options.path, '/var/lib/grafana/dashboards');
  assert.equal(grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, '/var/lib/grafana/dashboards/tributary-engine.json');
});

test('every dashboard panel uses a provisioned data source, and panels do not overlap', () => {
  const datasources = readYaml('deploy/grafana/provisioning/datasources/datasources.yml').datasources as Array<{ uid: string; type: string; url?: string; jsonData: Record<string, unknown> }>;
  const byUid = new Map(datasources.map((d) => [d.uid, d]));
  assert.equal(byUid.get('prometheus')?.url, 'http://prometheus:9090');
  assert.deepEqual(byUid.get('clickhouse')?.jsonData && { type: byUid.get('clickhouse')!.type, host: byUid.get('clickhouse')!.jsonData.host, port: byUid.get('clickhouse')!.jsonData.port }, { type: 'grafana-clickhouse-datasource', host: 'clickhouse', port: 8123 });
  const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(files, ['tributary-clickhouse.json', 'tributary-engine.json']);
  for (const file of files) {
    const { panels, uid } = dashboard(file);
    assert.ok(uid.startsWith('tributary-'));
    const ids = new Set<number>();
    const cells = new Set<string>();
    for (const panel of panels) {
      assert.ok(!ids.has(panel.id), `${file}: panel id ${panel.id} twice`);
      ids.add(panel.id);
      const { x, y, w, h } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `${file}: "${panel.title}" fits the 24-column grid`);
      for (let row = y; row < y + h; row++) for (let col = x; col < x + w; col++) {
        assert.ok(!cells.has(`${row}:${col}`), `${file}: "${panel.title}" overlaps another panel`);
        cells.add(`${row}:${col}`);
      }
      if (panel.type === 'row') continue;
      assert.ok(byUid.has(panel.datasource!.uid), `${file}: "${panel.title}" uses a provisioned data source`);
      assert.ok(panel.targets!.length > 0);
      for (const target of panel.targets!) assert.equal(target.datasource?.uid, panel.datasource!.uid);
    }
  }
});

test("every metric the engine dashboard queries is one the engine exports (Metrics, default process metrics included)", async () => {
  const metrics = new Metrics({ defaultMetrics: true });
  const exported = new Map((await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
  const { panels } = dashboard('tributary-engine.json');
  const used = new Set<string>();
  for (const panel of panels) for (const target of panel.targets ?? []) for (const [name] of target.expr!.matchAll(/\b(?:tributary|process|nodejs)_[a-z0-9_]+/g)) used.add(name);
  assert.ok(used.size >= 30, `the dashboard covers the metrics (${used.size} names)`);
  for (const name of used) {
    const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
    const known = exported.has(name) || (histogram !== null && exported.get(histogram[1]!) === 'histogram');
    assert.ok(known, `the dashboard queries ${name}, which Metrics does not export`);
  }
  // The metrics an operator needs first are all plotted (others may be added to Metrics without a panel).
  const required = [
    'tributary_records_in_total', 'tributary_step_records_in_total', 'tributary_step_records_out_total', 'tributary_output_records_total',
    'tributary_sink_rows_total', 'tributary_consumer_lag_records', 'tributary_partition_paused', 'tributary_in_flight_records',
    'tributary_sink_buffered_rows', 'tributary_watermark_lag_seconds', 'tributary_output_freshness_seconds',
    'tributary_end_to_end_latency_seconds_bucket', 'tributary_scoring_seconds_bucket', 'tributary_scoring_batch_rows_sum',
    'tributary_sink_batch_rows_sum', 'tributary_sink_flush_seconds_bucket', 'tributary_sink_errors_total', 'tributary_dead_letters_total',
    'tributary_late_records_total', 'tributary_records_lost_total', 'tributary_model_info', 'tributary_open_windows', 'tributary_websocket_clients',
  ];
  for (const name of required) assert.ok(used.has(name), `${name} is on the engine dashboard`);
});

test('the ClickHouse dashboard queries the card-fraud tables with SQL over the time range', () => {
  const { panels } = dashboard('tributary-clickhouse.json');
  const queried = new Set<string>();
  for (const panel of panels) {
    if (panel.type === 'row') continue;
    for (const target of panel.targets!) {
      assert.equal(target.editorType, 'sql');
      assert.match(target.rawSql!, /\$__timeFilter\(\w+\)/, `"${panel.title}" follows the dashboard's time range`);
      for (const [, table] of target.rawSql!.matchAll(/\bFROM (\w+)/g)) {
        assert.ok(CARD_FRAUD_TABLES.includes(table!), `"${panel.title}" reads ${table}`);
        queried.add(table!);
      }
    }
  }
  assert.deepEqual([...queried].sort(), [...CARD_FRAUD_TABLES].sort());
});
