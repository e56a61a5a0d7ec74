import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineContract } from '../../../src/contracts/define-contract.ts';
import { required, range, oneOf, matches, notInFuture, check } from '../../../src/contracts/rules.ts';
import { shortValue } from '../../../src/contracts/contract-rule.ts';
import { ConfigError } from '../../../src/core/errors.ts';

interface Order {
  id: string;
  amount: number;
  currency: string;
  country: string;
  ts: number;
  note?: string;
}

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const at = { processingTime: NOW };
const order = (overrides: Partial<Order> = {}): Order => ({ id: 'o-1', amount: 10, currency: 'EUR', country: 'DE', ts: NOW, ...overrides });

test('each rule passes a good value and fails a bad one, naming the offending value', () => {
  const cases: Array<{ rule: ReturnType<typeof required<Order>>; good: Order; bad: Order; offending: string }> = [
    { rule: required<Order>('id', 'currency'), good: order(), bad: order({ currency: '' }), offending: 'currency=""' },
    { rule: required<Order>('id', 'note'), good: order({ note: 'x' }), bad: order(), offending: 'note=<missing>' },
    { rule: required<Order>('amount'), good: order({ amount: 0 }), bad: order({ amount: Number.NaN }), offending: 'amount=NaN' },
    { rule: range<Order>('amount', { min: 0, max: 100 }), good: order({ amount: 100 }), bad: order({ amount: 100.01 }), offending: 'amount=100.01' },
    { rule: range<Order>('amount', { min: 0 }), good: order({ amount: 1e12 }), bad: order({ amount: -0.5 }), offending: 'amount=-0.5' },
    { rule: range<Order>('amount', { max: 5 }), good: order({ amount: -7 }), bad: order({ amount: Number.POSITIVE_INFINITY }), offending: 'amount=Infinity' },
    { rule: oneOf<Order, 'currency'>('currency', ['EUR', 'USD']), good: order({ currency: 'USD' }), bad: order({ currency: 'eur' }), offending: 'currency="eur"' },
    { rule: matches<Order>('id', /^o-\d+$/), good: order({ id: 'o-42' }), bad: order({ id: 'o-42\n' }), offending: 'id="o-42\\n"' },
    { rule: notInFuture<Order>('ts', '1h'), good: order({ ts: NOW + 3_600_000 }), bad: order({ ts: NOW + 3_600_001 }), offending: `ts=${NOW + 3_600_001}` },
    {
      rule: check<Order>((o) => o.country !== 'DE' || o.currency === 'EUR', { fields: ['currency', 'country'], description: 'EUR in DE' }),
      good: order({ country: 'US', currency: 'USD' }),
      bad: order({ currency: 'USD' }),
      offending: 'currency="USD" country="DE"',
    },
  ];
  for (const { rule, good, bad, offending } of cases) {
    assert.equal(rule.test(good, at), true, `${rule.description} passes ${JSON.stringify(good)}`);
    assert.equal(rule.test(bad, at), false, `${rule.description} fails ${JSON.stringify(bad)}`);
    assert.equal(rule.offending(bad), offending);
  }
});

test('notInFuture is judged against the context, not the wall clock; a range refuses a string that looks like a number', () => {
  const rule = notInFuture<Order>('ts', '10s');
  const value = order({ ts: 1_000_000 });
  assert.equal(rule.test(value, { processingTime: 990_000 }), true);
  assert.equal(rule.test(value, { processingTime: 989_999 }), false);
  assert.equal(range<Order>('amount', { min: 0 }).test({ ...order(), amount: '5' as unknown as number }, at), false);
});

test('a check that throws fails the record instead of the engine', () => {
  const rule = check<Order>((o) => (o.note as string).length > 0, { fields: ['note'], description: 'has a note' });
  assert.equal(rule.test(order(), at), false);
  assert.equal(rule.offending(order()), 'note=<missing>');
});

test('offending values are cut to 48 characters, whatever their length', () => {
  const long = 'x'.repeat(10_000);
  assert.equal(shortValue(long), JSON.stringify(`${'x'.repeat(48)}…`));
  assert.equal(matches<Order>('id', /^o-/).offending(order({ id: long })), `id="${'x'.repeat(48)}…"`);
  assert.equal(shortValue({ secret: 'hunter2' }), '<object>');
  assert.equal(shortValue([1, 2]), '<array>');
});

test('firstBroken reports the first rule in declaration order', () => {
  const contract = defineContract<Order>({
    name: 'order',
    rules: { 'amount-range': range('amount', { min: 0 }), 'currency-known': oneOf('currency', ['EUR']) },
  });
  assert.deepEqual(contract.ruleNames, ['amount-range', 'currency-known']);
  assert.equal(contract.firstBroken(order(), at), -1);
  assert.equal(contract.firstBroken(order({ currency: 'XXX' }), at), 1);
  assert.equal(contract.firstBroken(order({ amount: -1, currency: 'XXX' }), at), 0);
});

test('bad declarations fail at definition with the setting and the fix', () => {
  const configError = (field: string) => (error: unknown) => error instanceof ConfigError && error.field === field;
  assert.throws(() => defineContract<Order>({ name: 'Order', rules: { a: required('id') } }), configError('contract.name'));
  assert.throws(() => defineContract<Order>({ name: 'order', rules: {} }), configError('contract order'));
  assert.throws(() => defineContract<Order>({ name: 'order', rules: { 'Amount Range': range('amount', { min: 0 }) } }), configError('contract order.rules'));
  assert.throws(() => matches<Order>('id', /o-\d+/g), configError('contract.matches(id)'));
  assert.throws(() => range<Order>('amount', { min: 5, max: 1 }), configError('contract.range(amount)'));
  assert.throws(() => notInFuture<Order>('ts', 'soon'), configError('contract.notInFuture(ts)'));
  assert.throws(() => oneOf<Order, 'currency'>('currency', []), configError('contract.oneOf(currency)'));
});

test('rules are typed against the event: a misspelt field or a field of another type does not compile', () => {
  defineContract<Order>({
    name: 'order',
    rules: {
      // @ts-expect-error 'amout' is not a field of Order
      a: range('amout', { min: 0 }),
      // @ts-expect-error currency is a string, not a number
      b: range('currency', { min: 0 }),
      // @ts-expect-error amount is a number, so a pattern cannot apply
      c: matches('amount', /\d/),
      // @ts-expect-error a currency is a string
      d: oneOf('currency', [1, 2]),
    },
  });
});
