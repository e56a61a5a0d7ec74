import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContractCheck, violationLetter } from '../../../src/contracts/contract-check.ts';
import { defineContract } from '../../../src/contracts/define-contract.ts';
import { oneOf, range } from '../../../src/contracts/rules.ts';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { Metrics } from '../../../src/observability/metrics.ts';

interface Order {
  id: number;
  amount: number;
  currency: string;
}

const CONTRACT = defineContract<Order>({
  name: 'order',
  rules: { 'amount-range': range('amount', { min: 0, max: 1_000 }), 'currency-known': oneOf('currency', ['EUR', 'USD']) },
});

function record(id: number, amount: number, currency = 'EUR'): StreamRecord<Order> {
  return { value: { id, amount, currency }, key: id % 2 === 0 ? '' : `k${id}`, eventTime: 1_000 + id, topic: 'orders', partition: 3, offset: String(100 + id) };
}

async function counted(metrics: Metrics): Promise<Record<string, number>> {
  const values = (await metrics.contractViolations.get()).values;
  return Object.fromEntries(values.map(({ labels, value }) => [`${labels.topology}/${labels.rule}`, value]));
}

test('a clean batch comes back as the same array, and every rule is counted at 0 from the start', async () => {
  const metrics = new Metrics();
  const check = new ContractCheck(CONTRACT, { metrics, topology: 'shop' });
  const records = [record(1, 5), record(2, 1_000, 'USD'), record(3, 0)];
  const checked = check.apply(records, 0);
  assert.equal(checked.kept, records);
  assert.deepEqual(checked.violations, []);
  assert.deepEqual(await counted(metrics), { 'shop/amount-range': 0, 'shop/currency-known': 0 });
});

test('breaking records leave the batch in order, each under the first rule it breaks, counted per rule', async () => {
  const metrics = new Metrics();
  const check = new ContractCheck(CONTRACT, { metrics, topology: 'shop' });
  const records = [record(0, -1), record(1, 5), record(2, 5, 'XXX'), record(3, 2_000, 'XXX'), record(4, 7), record(5, Number.NaN)];
  const checked = check.apply(records, 0);
  assert.deepEqual(checked.kept.map((r) => r.value.id), [1, 4]);
  assert.deepEqual(checked.violations.map((v) => [(v.record.value as Order).id, v.rule, v.offending]), [
    [0, 'amount-range', 'amount=-1'],
    [2, 'currency-known', 'currency="XXX"'],
    [3, 'amount-range', 'amount=2000'],
    [5, 'amount-range', 'amount=NaN'],
  ]);
  assert.equal(checked.violations[1]!.error, 'contract order, rule currency-known (currency one of EUR, USD): currency="XXX"');
  check.apply([record(6, 1, 'GBP')], 0);
  assert.deepEqual(await counted(metrics), { 'shop/amount-range': 3, 'shop/currency-known': 2 });
});

test('a violation becomes a dead letter with step contract:<rule>, its provenance and the value as JSON', () => {
  const check = new ContractCheck(CONTRACT);
  const [violation] = check.apply([record(3, 5, 'XXX')], 0).violations;
  const letter = violationLetter(violation!);
  assert.deepEqual({ ...letter, raw: new TextDecoder().decode(letter.raw!) }, {
    step: 'contract:currency-known',
    topic: 'orders',
    partition: 3,
    offset: '103',
    error: 'contract order, rule currency-known (currency one of EUR, USD): currency="XXX"',
    raw: '{"id":3,"amount":5,"currency":"XXX"}',
    key: 'k3',
    timestamp: 1_003,
  });
});
