import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Metrics } from '../../src/observability/metrics.ts';
import { REPO_ROOT } from '../helpers/services.ts';

const PROMETHEUS = path.join(REPO_ROOT, 'deploy/prometheus');
const RULES = path.join(PROMETHEUS, 'rules/tributary-alerts.yml');
const RULE_TESTS = path.join(PROMETHEUS, 'tests/tributary-alerts.test.yml');
/** Metrics the rules use that another part of issue 15 adds (feature drift, on its own branch). */
const FROM_OTHER_WORK = new Set(['tributary_drift_psi']);

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8' });
  if (result.error) throw new Error(`promtool is not installed (${result.error.message}); run \`TRIBUTARY_NEED_PROMTOOL=1 bash scripts/services.sh start\` (Debian package prometheus)`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** YAML through Python's PyYAML (Debian python3-yaml), as test/unit/observability/deploy-files.test.ts reads it. */
function readYaml(file: string): any {
  const result = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', file], { encoding: 'utf8' });
  assert.equal(result.status, 0, `parsing ${file} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}
const rules: Rule[] = (readYaml(RULES).groups as Array<{ rules: Rule[] }>).flatMap((group) => group.rules);
const alerts = rules.filter((rule) => rule.alert !== undefined);

test('promtool check rules passes on the alert rules', () => {
  const { status, output } = promtool('check', 'rules', RULES);
  assert.equal(status, 0, output);
  assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool test rules: every alert fires on a series that should fire it and stays silent on one that should not', () => {
  const { status, output } = promtool('test', 'rules', RULE_TESTS);
  assert.equal(status, 0, output);
  assert.match(output, /SUCCESS/);
  // Every alert is under test: fired (a non-empty exp_alerts) and silent (an empty one) at least once.
  const cases = (readYaml(RULE_TESTS).tests as Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] | null }> }>).flatMap((t) => t.alert_rule_test);
  for (const { alert } of alerts) {
    assert.ok(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0), `${alert} is tested firing`);
    assert.ok(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0), `${alert} is tested silent`);
  }
});

test('the rule tests can fail: with a threshold moved, promtool test rules reports the alert that no longer fires', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tributary-rules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(PROMETHEUS, dir, { recursive: true });
  const copy = path.join(dir, 'rules/tributary-alerts.yml');
  const text = readFileSync(copy, 'utf8');
  assert.ok(text.includes('(tributary_consumer_lag_records) > 100000'));
  writeFileSync(copy, text.replace('(tributary_consumer_lag_records) > 100000', '(tributary_consumer_lag_records) > 1000000'));
  const { status, output } = promtool('test', 'rules', path.join(dir, 'tests/tributary-alerts.test.yml'));
  assert.notEqual(status, 0);
  assert.match(output, /alertname: TributaryConsumerLagHigh/);
  assert.doesNotMatch(output, /alertname: TributarySinkErrors/);
});

test("the compose Prometheus loads the rules: its config passes promtool check config with the rules where compose mounts them", (t) => {
  const config = readYaml(path.join(PROMETHEUS, 'prometheus.yml'));
  assert.deepEqual(config.rule_files, ['/etc/prometheus/rules/tributary-alerts.yml']);
  const compose = readYaml(path.join(REPO_ROOT, 'docker-compose.yml'));
  assert.ok((compose.services.prometheus.volumes as string[]).includes('./deploy/prometheus/rules:/etc/prometheus/rules:ro'));
  // The same config with the container path pointing at the repository's rules directory.
  const dir = mkdtempSync(path.join(tmpdir(), 'tributary-prometheus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const local = path.join(dir, 'prometheus.yml');
  writeFileSync(local, readFileSync(path.join(PROMETHEUS, 'prometheus.yml'), 'utf8').replace('/etc/prometheus/rules/', `${path.join(PROMETHEUS, 'rules')}/`));
  const { status, output } = promtool('check', 'config', local);
  assert.equal(status, 0, output);
  assert.match(output, /SUCCESS: 17 rules found/);
});

test('every alert links its runbook, which says what it means, how to confirm and how to fix', () => {
  for (const { alert, annotations } of alerts) {
    const runbook = `docs/runbooks/${alert}.md`;
    assert.equal(annotations?.runbook_url, runbook, alert);
    assert.ok(existsSync(path.join(REPO_ROOT, runbook)), `${runbook} exists`);
    const text = readFileSync(path.join(REPO_ROOT, runbook), 'utf8');
    assert.ok(text.startsWith(`# ${alert}\n`), `${runbook} is titled with the alert`);
    for (const section of ['## What it means', '## How to confirm', '## How to fix']) assert.ok(text.includes(`\n${section}\n`), `${runbook} has "${section}"`);
    assert.ok(readFileSync(path.join(REPO_ROOT, 'docs/runbooks/README.md'), 'utf8').includes(`(${alert}.md)`), `docs/runbooks/README.md lists ${alert}`);
  }
});

test("the rules use the engine's real metric names", () => {
  const exported = new Set(new Metrics().registry.getMetricsAsArray().map((metric) => metric.name));
  const used = new Set(rules.flatMap((rule) => [...rule.expr.matchAll(/\b(tributary_[a-z0-9_]+?)(?:_bucket|_sum|_count)?\b/g)].map((m) => m[1]!)));
  assert.ok(used.size >= 12, [...used].join(', '));
  const unknown = [...used].filter((name) => !exported.has(name) && !FROM_OTHER_WORK.has(name));
  assert.deepEqual(unknown, []);
});
