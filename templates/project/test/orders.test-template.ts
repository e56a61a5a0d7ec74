import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOnArray } from 'tributary/testing';
import topology, { type Order } from '../topologies/orders.ts';

const minute = 60_000;
const order = (customerId: string, amount: number, ts: number): Order => ({ orderId: `${customerId}-${ts}`, customerId, amount, ts });

test('orders are totalled per customer and minute of event time', async () => {
  const orders = [
    order('alice', 10, 1_000),
    order('bob', 5, 2_000),
    order('alice', 30, 59_999),
    order('alice', 7, minute), // the next minute
  ];
  const { outputs } = await runOnArray(topology, orders);
  // Worked out by hand: alice 10 + 30 in [0, 1m), bob 5 in [0, 1m), alice 7 in [1m, 2m).
  assert.deepEqual(outputs.totals, [
    { customerId: 'alice', windowStart: 0, windowEnd: minute, orders: 2, revenue: 40, largest: 30 },
    { customerId: 'bob', windowStart: 0, windowEnd: minute, orders: 1, revenue: 5, largest: 5 },
    { customerId: 'alice', windowStart: minute, windowEnd: 2 * minute, orders: 1, revenue: 7, largest: 7 },
  ]);
});
