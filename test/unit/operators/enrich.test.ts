import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { AckToken } from '../../../src/core/ack.ts';
import { newSideOutputs, type Batch, type StreamRecord } from '../../../src/core/batch.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { enrich } from '../../../src/operators/enrich.ts';
import { lookupTable } from '../../../src/tables/lookup-table.ts';

interface Payment {
  merchantId: string | null;
  amount: number;
}

interface Merchant {
  tier: string;
}

const record = (value: Payment, offset: number): StreamRecord<Payment> => ({ value, key: `card-${offset}`, eventTime: 1_000 + offset, topic: 'payments', partition: 3, offset: String(offset) });
const batchOf = (records: StreamRecord<Payment>[], watermark = 900): Batch<Payment> => ({ records, watermark, acks: [new AckToken('payments:3', 99n, records.length, () => {})], side: newSideOutputs() });

function setup(options: { type?: 'left' | 'inner'; ttl?: string } = {}) {
  const clock = { now: 5_000_000 };
  const merchants = lookupTable<Merchant>({ name: 'merchants', ttl: options.ttl, clock: () => clock.now });
  const input = new Subject<Batch<Payment>>();
  const out: Batch<{ amount: number; tier: string }>[] = [];
  input
    .pipe(
      enrich(merchants, {
        key: (p: Payment) => p.merchantId,
        combine: (p, m) => {
          if (p.amount < 0) throw new Error('negative amount');
          return { amount: p.amount, tier: m?.tier ?? 'unknown' };
        },
        type: options.type,
      }),
    )
    .subscribe((batch) => out.push(batch));
  return { merchants, clock, input, out, tiers: (i: number) => out[i]!.records.map((r) => r.value.tier) };
}

test('each record gets its row; a missing row gives combine undefined; watermark, acks, side and provenance pass through', () => {
  const { merchants, input, out } = setup();
  merchants.apply('m1', { tier: 'low' });
  const batch = batchOf([record({ merchantId: 'm1', amount: 10 }, 0), record({ merchantId: 'm9', amount: 20 }, 1), record({ merchantId: null, amount: 30 }, 2)]);
  input.next(batch);
  assert.equal(out.length, 1);
  const [result] = out;
  assert.deepEqual(result!.records, [
    { value: { amount: 10, tier: 'low' }, key: 'card-0', eventTime: 1_000, topic: 'payments', partition: 3, offset: '0' },
    { value: { amount: 20, tier: 'unknown' }, key: 'card-1', eventTime: 1_001, topic: 'payments', partition: 3, offset: '1' },
    { value: { amount: 30, tier: 'unknown' }, key: 'card-2', eventTime: 1_002, topic: 'payments', partition: 3, offset: '2' },
  ]);
  assert.equal(result!.watermark, 900);
  assert.equal(result!.acks, batch.acks);
  assert.equal(result!.side, batch.side);
});

test('the table as it is when a batch is processed: latest update wins, a deleted row is missing', () => {
  const { merchants, input, tiers } = setup();
  merchants.apply('m1', { tier: 'low' });
  input.next(batchOf([record({ merchantId: 'm1', amount: 1 }, 0)]));
  merchants.apply('m1', { tier: 'high' });
  input.next(batchOf([record({ merchantId: 'm1', amount: 1 }, 1)]));
  merchants.delete('m1');
  input.next(batchOf([record({ merchantId: 'm1', amount: 1 }, 2)]));
  assert.deepEqual([tiers(0), tiers(1), tiers(2)], [['low'], ['high'], ['unknown']]);
});

test('a row older than the TTL (on the injected clock) is missing, and the sweep reclaims unused rows', () => {
  const { merchants, clock, input, tiers } = setup({ ttl: '1h' });
  merchants.apply('m1', { tier: 'low' });
  merchants.apply('unused', { tier: 'high' });
  clock.now += 3_600_000 - 1;
  input.next(batchOf([record({ merchantId: 'm1', amount: 1 }, 0)]));
  clock.now += 1;
  input.next(batchOf([record({ merchantId: 'm1', amount: 1 }, 1)]));
  assert.deepEqual([tiers(0), tiers(1)], [['low'], ['unknown']]);
  assert.equal(merchants.size, 1, 'the lookup evicted m1; the sweep that ran with the first batch found nothing expired then');
  clock.now += 60_000; // sweep passes start at most once per min(ttl, 1 min)
  input.next(batchOf([]));
  assert.equal(merchants.size, 0, 'the per-batch sweep evicted the row nobody asked for');
});

test("type 'inner' drops records without a row", () => {
  const { merchants, input, out } = setup({ type: 'inner' });
  merchants.apply('m1', { tier: 'low' });
  input.next(batchOf([record({ merchantId: 'm9', amount: 1 }, 0), record({ merchantId: 'm1', amount: 2 }, 1), record({ merchantId: null, amount: 3 }, 2)]));
  assert.deepEqual(out[0]!.records.map((r) => [r.offset, r.value.tier]), [['1', 'low']]);
});

test('a key or combine function that throws dead-letters its record with the step name; the others continue', () => {
  const { merchants, input, out } = setup();
  merchants.apply('m1', { tier: 'low' });
  const input2 = new Subject<Batch<Payment>>();
  const out2: Batch<string>[] = [];
  input2.pipe(enrich(merchants, { key: (p: Payment) => p.merchantId!.toUpperCase(), combine: (_p, m) => m?.tier ?? 'unknown', name: 'merchant-risk' })).subscribe((b) => out2.push(b));

  const batch = batchOf([record({ merchantId: 'm1', amount: -1 }, 0), record({ merchantId: 'm1', amount: 5 }, 1)]);
  input.next(batch);
  assert.deepEqual(out[0]!.records.map((r) => r.offset), ['1']);
  assert.deepEqual(batch.side.deadLetters, [{ step: 'enrich-merchants', topic: 'payments', partition: 3, offset: '0', error: 'negative amount', raw: null, key: 'card-0', timestamp: 1_000 }]);

  const batch2 = batchOf([record({ merchantId: null, amount: 1 }, 7), record({ merchantId: 'x', amount: 1 }, 8)]);
  input2.next(batch2);
  assert.deepEqual(out2[0]!.records.map((r) => [r.offset, r.value]), [['8', 'unknown']]);
  assert.equal(batch2.side.deadLetters.length, 1);
  assert.equal(batch2.side.deadLetters[0]!.step, 'merchant-risk');
  assert.equal(batch2.side.deadLetters[0]!.offset, '7');
  assert.match(batch2.side.deadLetters[0]!.error, /toUpperCase/);
});

test('numeric keys are looked up as strings; completion and errors pass through', () => {
  const merchants = lookupTable<Merchant>({ name: 'merchants' });
  merchants.apply('42', { tier: 'medium' });
  const input = new Subject<Batch<{ id: number }>>();
  const values: string[] = [];
  const state = { completed: false };
  input.pipe(enrich(merchants, { key: (v: { id: number }) => v.id, combine: (_v, m) => m?.tier ?? 'unknown' })).subscribe({ next: (b) => values.push(...b.records.map((r) => r.value)), complete: () => (state.completed = true) });
  input.next({ records: [{ value: { id: 42 }, key: '', eventTime: 0, topic: 't', partition: 0, offset: '0' }], watermark: 0, acks: [], side: newSideOutputs() });
  input.complete();
  assert.deepEqual(values, ['medium']);
  assert.equal(state.completed, true);
});

test('configuration mistakes fail when the pipeline is built, naming the field', () => {
  const merchants = lookupTable<Merchant>({ name: 'merchants' });
  const field = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.field;
    }
    return 'no error';
  };
  assert.equal(field(() => enrich({} as never, { key: () => 'k', combine: () => 1 })), 'enrich.table');
  assert.equal(field(() => enrich(merchants, { key: 'merchantId' as never, combine: () => 1 })), 'enrich.key');
  assert.equal(field(() => enrich(merchants, { key: () => 'k' } as never)), 'enrich.combine');
  assert.equal(field(() => enrich(merchants, { key: () => 'k', combine: () => 1, type: 'outer' as never })), 'enrich.type');
});

test('in an engine, a Kafka table the topology does not list is a configuration error, not silent misses', async () => {
  const { kafkaTable } = await import('../../../src/tables/kafka-table.ts');
  const { StateRegistry } = await import('../../../src/core/step-state.ts');
  const { Metrics } = await import('../../../src/observability/metrics.ts');
  const { silentLogger } = await import('../../../src/observability/logger.ts');
  const merchants = kafkaTable<{ tier: string }>({ name: 'merchants', topic: 'merchants', format: 'json' });
  const input = new Subject<Batch<{ m: string }>>();
  let failure: unknown;
  input.pipe(enrich(merchants, { key: (v) => v.m, combine: (v, row) => ({ ...v, tier: row?.tier }) })).subscribe({ error: (error) => (failure = error) });
  const state = new StateRegistry({ durable: false, runtime: { topology: 't', metrics: new Metrics(), logger: silentLogger } });
  input.next({ records: [], watermark: 0, acks: [], side: { ...newSideOutputs(), state } });
  assert.ok(failure instanceof ConfigError, String(failure));
  assert.match(failure.message, /table "merchants" used by enrich-merchants is fed from .*merchants.*, but the topology does not list it.*Fix: add it to the topology: tables: \[merchants\]/);
});
