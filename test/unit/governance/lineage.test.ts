import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import { SinkGovernor } from '../../../src/runtime/sink-governor.ts';
import type { AnyTopology } from '../../../src/topology/define-topology.ts';
import type { TopologyGovernance } from '../../../src/governance/governance-spec.ts';
import { CARD_FRAUD_GOVERNANCE, createCardFraudTopology } from '../../../topologies/card-fraud.ts';
import { SCHEMAS_DIR } from '../../helpers/services.ts';

const noKeys = async () => {
  throw new Error('the check at start needs no key');
};

function governor(governance: TopologyGovernance | undefined, schemasDir = SCHEMAS_DIR): SinkGovernor {
  const topology = createCardFraudTopology({ deadLetterTopic: 'payments.dlq' }) as AnyTopology;
  return new SinkGovernor({ ...topology, governance }, schemasDir, noKeys);
}

function refusal(make: () => unknown): ConfigError {
  let caught: unknown;
  try {
    make();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return caught;
}

test('card-fraud without governance fails at start naming a tagged field, its destination and the fix', () => {
  const error = refusal(() => governor(undefined));
  assert.equal(error.field, 'governance');
  assert.match(error.message, /field "paymentId" is tagged "quasi" and reaches ClickHouse table payments \(payment\.avsc\).* \(output raw\)/);
  assert.match(error.message, /Fix: add governance: \{ policies: \{ quasi: \{ clickhouse: 'hash' \} \} \}/);
});

test('a destination without a policy for a tag fails naming the setting, field and sink', () => {
  const without = (tag: 'direct' | 'quasi' | 'sensitive', destination: string): TopologyGovernance => {
    // A JSON copy: direct and quasi share one object in the topology, structuredClone would keep that.
    const policies = JSON.parse(JSON.stringify(CARD_FRAUD_GOVERNANCE.policies)) as TopologyGovernance['policies'];
    delete (policies[tag] as Record<string, unknown>)[destination];
    return { ...CARD_FRAUD_GOVERNANCE, policies };
  };
  const state = refusal(() => governor(without('sensitive', 'state')));
  assert.equal(state.field, 'governance.policies.sensitive.state');
  assert.match(state.message, /field "sum1m" \(sensitive\) reaches online state features:card-features:v1:\* \(output features\)/);
  const key = refusal(() => governor(without('direct', 'websocket')));
  assert.equal(key.field, 'governance.policies.direct.websocket');
  assert.match(key.message, /websocket channel fraud \(output predictions\)/);
  const kafka = refusal(() => governor(without('quasi', 'kafka')));
  assert.equal(kafka.field, 'governance.policies.quasi.kafka');
  assert.match(kafka.message, /kafka dead-letter topic payments\.dlq/);
  assert.match(kafka.message, /'encrypt', 'drop' or 'keep'/);
  const late = refusal(() => governor(without('sensitive', 'late')));
  assert.equal(late.field, 'governance.policies.sensitive.late');
});

test('an output field derived from a tagged input field must carry the tag in its schema, or be declared safe', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'schemas-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(SCHEMAS_DIR, dir, { recursive: true });
  const file = path.join(dir, 'card_features.avsc');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as { fields: Array<{ name: string; pii?: string }> };
  delete schema.fields.find((f) => f.name === 'max5m')!.pii;
  writeFileSync(file, JSON.stringify(schema));
  const error = refusal(() => governor(CARD_FRAUD_GOVERNANCE, dir));
  assert.equal(error.field, 'card_features.avsc field max5m');
  assert.match(error.message, /output features writes "max5m", which is derived from amount \(sensitive\), but card_features\.avsc gives it no "pii" tag/);
  assert.match(error.message, /Fix: add "pii": "sensitive" to the field in card_features\.avsc, or list it in the topology's governance\.safe/);
  // Declared safe, the same schema passes.
  assert.ok(governor({ ...CARD_FRAUD_GOVERNANCE, safe: ['max5m'] }, dir).active);
  // A field with the name of a tagged input field is held to its tag without any declaration.
  delete schema.fields.find((f) => f.name === 'cardId')!.pii;
  writeFileSync(file, JSON.stringify(schema));
  assert.equal(refusal(() => governor({ ...CARD_FRAUD_GOVERNANCE, safe: ['max5m'] }, dir)).field, 'card_features.avsc field cardId');
});

test('the protected card-fraud plans pseudonymized state keys; in clear, nothing is wrapped', async () => {
  const governed = governor(CARD_FRAUD_GOVERNANCE);
  assert.equal(governed.active, true);
  assert.deepEqual(governed.statePrefixes, [
    { prefix: 'features:card-features:v1:', pseudonymized: true },
    { prefix: 'prediction:card:', pseudonymized: true },
  ]);
  assert.deepEqual(governed.stateKeysOf('card-1', 'h1_x'), ['features:card-features:v1:h1_x', 'prediction:card:h1_x']);
  const clear = new SinkGovernor(createCardFraudTopology() as AnyTopology, SCHEMAS_DIR, noKeys);
  assert.equal(clear.active, false);
  assert.equal(await clear.stateKey('features:card-features:v1:card-1'), 'features:card-features:v1:card-1');
});
