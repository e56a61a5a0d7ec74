import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { checkPolicyTable, policyOf } from '../../../src/governance/policies.ts';
import { generalizer } from '../../../src/governance/generalize.ts';
import { governedSchema } from '../../../src/governance/governed-schema.ts';
import { schemaTags } from '../../../src/governance/tags.ts';

test('generalizations cut toward zero, to the values written out here', () => {
  const significant = generalizer({ kind: 'significant', digits: 2 });
  assert.deepEqual([31337.77, 0.29, 0.4999, 0.5, 987.6, -31337.77, 0, 7].map(significant), [31000, 0.29, 0.49, 0.5, 980, -31000, 0, 7]);
  const bucket = generalizer({ kind: 'bucket', width: 50 });
  assert.deepEqual([0, 49.99, 50, 1234.5, 0.3].map(bucket), [0, 0, 50, 1200, 0]);
  const tenths = generalizer({ kind: 'bucket', width: 0.1 });
  assert.deepEqual([0.29, 0.3, 0.71].map(tenths), [0.2, 0.3, 0.7]);
  const prefix = generalizer({ kind: 'prefix', length: 3 });
  assert.deepEqual(['card-00042', 'ab', 12345].map(prefix), ['car', 'ab', '123']);
  const minute = generalizer({ kind: 'truncate', unitMs: 60_000 });
  assert.equal(minute(Date.UTC(2026, 0, 1, 12, 34, 56, 789)), Date.UTC(2026, 0, 1, 12, 34));
  // What a generalization cannot read is not passed through.
  assert.equal(significant('31337.77'), null);
  assert.equal(minute('yesterday'), null);
  assert.equal(significant(undefined), undefined);
});

test('a policy table is checked when declared: unknown tags, destinations and policies name the setting', () => {
  const fails = (table: unknown, field: string) => assert.throws(() => checkPolicyTable(table), (error: ConfigError) => error instanceof ConfigError && error.field === field, field);
  fails({ secret: { clickhouse: 'hash' } }, 'governance.policies.secret');
  fails({ direct: { s3: 'hash' } }, 'governance.policies.direct.s3');
  fails({ direct: { clickhouse: 'encrypt' } }, 'governance.policies.direct.clickhouse');
  fails({ direct: { deadLetters: 'hash' } }, 'governance.policies.direct.deadLetters');
  fails({ direct: { logs: 'keep' } }, 'governance.policies.direct.logs');
  fails({ sensitive: { clickhouse: { significant: 0 } } }, 'governance.policies.sensitive.clickhouse');
  fails({ sensitive: { clickhouse: { bucket: -5 } } }, 'governance.policies.sensitive.clickhouse');
  fails({ sensitive: { clickhouse: { truncate: 'soon' } } }, 'governance.policies.sensitive.clickhouse.truncate');
  fails({ sensitive: { clickhouse: { bucket: 5, prefix: 2 } } }, 'governance.policies.sensitive.clickhouse');
  const table = checkPolicyTable({ direct: { clickhouse: 'hash', websocket: 'hash', deadLetters: 'encrypt' }, sensitive: { clickhouse: { truncate: '1m' } } });
  assert.deepEqual(policyOf(table, 'direct', 'clickhouse'), { kind: 'hash' });
  assert.deepEqual(policyOf(table, 'direct', 'websocketAdmin'), { kind: 'hash' }, "the admin view falls back to the channel's policy");
  assert.deepEqual(policyOf(table, 'sensitive', 'clickhouse'), { kind: 'truncate', unitMs: 60_000 });
  assert.deepEqual(policyOf(table, 'direct', 'logs'), { kind: 'drop' }, 'logs never get values');
  assert.equal(policyOf(table, 'direct', 'state'), undefined);
  assert.deepEqual(policyOf(table, 'direct', 'clickhouse', { clickhouse: { prefix: 4 } }), { kind: 'prefix', length: 4 }, "a field's own policy first");
});

test('schema tags: pii attributes and the subject; a wrong tag or subject names the schema and field', () => {
  const tags = schemaTags({ type: 'record', name: 'P', subject: 'cardId', fields: [{ name: 'cardId', type: 'string', pii: 'direct' }, { name: 'amount', type: 'double', pii: 'sensitive' }, { name: 'ts', type: 'long' }] }, 'p.avsc');
  assert.deepEqual([...tags.fields], [['cardId', 'direct'], ['amount', 'sensitive']]);
  assert.equal(tags.subject, 'cardId');
  assert.throws(() => schemaTags({ type: 'record', fields: [{ name: 'cardId', type: 'string', pii: 'secret' }] }, 'p.avsc'), (error: ConfigError) => error.field === 'p.avsc field cardId pii');
  assert.throws(() => schemaTags({ type: 'record', subject: 'card', fields: [{ name: 'cardId', type: 'string' }] }, 'p.avsc'), (error: ConfigError) => error.field === 'p.avsc subject');
});

test('a governed schema stores hashed and tokenized fields as strings and leaves dropped ones out', () => {
  const schema = {
    type: 'record',
    name: 'Row',
    fields: [
      { name: 'cardId', type: 'string' },
      { name: 'amount', type: 'double', default: 0 },
      { name: 'score', type: ['null', 'double'], default: null },
      { name: 'country', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'count', type: 'long' },
    ],
  };
  const plan = {
    destination: 'clickhouse' as const,
    key: { kind: 'keep' as const },
    subject: 'cardId',
    fields: [
      { name: 'cardId', tag: 'direct' as const, policy: { kind: 'hash' as const } },
      { name: 'amount', tag: 'sensitive' as const, policy: { kind: 'token' as const } },
      { name: 'score', tag: 'sensitive' as const, policy: { kind: 'token' as const } },
      { name: 'country', tag: 'quasi' as const, policy: { kind: 'drop' as const } },
      { name: 'ts', tag: 'quasi' as const, policy: { kind: 'truncate' as const, unitMs: 60_000 } },
    ],
  };
  assert.deepEqual(governedSchema(schema, plan), {
    type: 'record',
    name: 'Row',
    fields: [
      { name: 'cardId', type: 'string' },
      { name: 'amount', type: 'string' },
      { name: 'score', type: ['null', 'string'] },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'count', type: 'long' },
    ],
  });
});
