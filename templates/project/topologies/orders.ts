import type { Observable } from 'rxjs';
import {
  defineTopology, kafkaTopic, generatorSource, keyBy, tumbling, aggregate, count, sum, max, map,
  clickhouseTable, clickhouseDeadLetters, websocketChannel, type Batch,
} from 'tributary';

/** One order (schemas/order.avsc). */
export interface Order {
  orderId: string;
  customerId: string;
  amount: number;
  /** Event time, epoch ms. */
  ts: number;
}

/** Per customer and minute of event time (schemas/customer_minute.avsc). */
export interface CustomerMinute {
  customerId: string;
  windowStart: number;
  windowEnd: number;
  orders: number;
  revenue: number;
  largest: number;
}

/** The feature definition, a plain function of the stream: the engine, the demo and the tests run the same one. */
export function customerMinutes(orders: Observable<Batch<Order>>): Observable<Batch<CustomerMinute>> {
  return orders.pipe(
    keyBy((order) => order.customerId),
    tumbling('1m', { grace: '5s' }),
    aggregate({ orders: count(), revenue: sum((order: Order) => order.amount), largest: max((order: Order) => order.amount) }, { name: 'customer-1m' }),
    map((w) => ({ customerId: w.key, windowStart: w.windowStart, windowEnd: w.windowEnd, orders: w.orders, revenue: w.revenue, largest: w.largest })),
  );
}

/** Seeded demo orders: 50 customers, amounts from 1.00 to 200.00. */
function demoOrders() {
  let seed = 42;
  let n = 0;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  return {
    next: (ts: number): Order => ({ orderId: `order-${++n}`, customerId: `customer-${Math.floor(random() * 50)}`, amount: Math.round(100 + random() * 19_900) / 100, ts }),
  };
}

export default defineTopology({
  name: 'orders',
  // With KAFKA_BROKERS set: Avro orders from the `orders` topic. Without: the demo generator.
  source: kafkaTopic<Order>({ topic: 'orders', format: 'avro', schema: 'order.avsc', eventTime: (order) => order.ts }),
  demoSource: generatorSource<Order>({ name: 'orders', events: demoOrders, eventTime: (order) => order.ts, eventsPerSecond: 50, startBehind: '3m', speedup: 30 }),
  pipeline: (orders) => ({ totals: customerMinutes(orders) }),
  sinks: {
    totals: [
      clickhouseTable<CustomerMinute>('customer_minute', { schema: 'customer_minute.avsc', orderBy: ['customerId', 'windowEnd'], dedupe: 'orderBy' }),
      websocketChannel<CustomerMinute>('totals', { key: (row) => row.customerId }),
    ],
  },
  deadLetter: clickhouseDeadLetters('dead_letters'),
});
