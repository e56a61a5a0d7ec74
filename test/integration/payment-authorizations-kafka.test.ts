import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/runtime/engine.ts';
import { createKafkajsClient } from '../../src/kafka/kafkajs-client.ts';
import type { ProducedMessage } from '../../src/kafka/kafka-client.ts';
import type { LookupTable } from '../../src/tables/lookup-table.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { createPaymentAuthorizationsTopology, type AuthorizationEvent, type Merchant, type PaymentEvent, type PaymentFlowEvent } from '../../topologies/payment-authorizations.ts';
import { clickhouse, engineConfig, queryRows, uniqueName, waitFor } from '../helpers/services.ts';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const DAY = 86_400_000;
const WITHIN_MS = 120_000;
const GRACE_MS = 10_000;
const OUT_OF_ORDERNESS_MS = 5_000;
const TTL_MS = DAY;
const FILLER_MERCHANTS = 40_000;

const pay = (paymentId: string, s: number, cardId: string, merchantId: string, amount: number): PaymentEvent => ({ type: 'payment', paymentId, ts: T0 + s * 1000, cardId, merchantId, amount });
const auth = (paymentId: string, s: number, authorizationCode: string): AuthorizationEvent => ({ type: 'authorization', paymentId, ts: T0 + s * 1000, authorizationCode });

/** One record of the merchants topic: a value, a tombstone (null) or bytes that are not JSON. */
interface MerchantRecord {
  key: string;
  value: Merchant | null | string;
  /** Kafka timestamp (epoch ms); the table's TTL runs from it. */
  timestamp: number;
}

const merchant = (merchantId: string, riskTier: Merchant['riskTier'], timestamp = Date.now()): MerchantRecord => ({ key: merchantId, value: { merchantId, name: `Shop ${merchantId}`, riskTier }, timestamp });

/**
 * What the merchants table should hold after `records`, computed here from the records alone:
 * the last record per key, tombstones and undecodable values removed, TTL from the record time.
 */
function referenceMerchants(records: readonly MerchantRecord[], now: number): Map<string, Merchant['riskTier']> {
  const latest = new Map<string, MerchantRecord>();
  for (const r of records) latest.set(r.key, r);
  const tiers = new Map<string, Merchant['riskTier']>();
  for (const [key, r] of latest) {
    if (r.value === null || typeof r.value === 'string' || now - r.timestamp >= TTL_MS) continue;
    tiers.set(key, r.value.riskTier);
  }
  return tiers;
}

interface ExpectedRow {
  paymentId: string;
  ts: number;
  cardId: string;
  merchantId: string;
  amount: number;
  authorized: boolean;
  authorizationCode: string | null;
  latencyMs: number | null;
  merchantRiskTier: string;
}

/**
 * The rows of the join, computed independently: each event carries the phase in which it was
 * sent; a phase ends with a known watermark (the largest event time so far minus 5 s). A matched
 * row is produced in the phase of the later of its two events; an unmatched payment in the first
 * phase whose watermark reaches its time + within + grace. Its tier is the merchants table of
 * that phase.
 */
function referenceRows(phases: Array<{ events: PaymentFlowEvent[]; late: PaymentFlowEvent[]; merchants: Map<string, Merchant['riskTier']> }>): ExpectedRow[] {
  const watermarks: number[] = [];
  let maxTs = -Infinity;
  for (const phase of phases) {
    for (const e of phase.events) maxTs = Math.max(maxTs, e.ts);
    watermarks.push(maxTs - OUT_OF_ORDERNESS_MS);
  }
  const payments = phases.flatMap((phase, i) => phase.events.filter((e): e is PaymentEvent => e.type === 'payment').map((p) => ({ p, phase: i })));
  const auths = phases.flatMap((phase, i) => phase.events.filter((e): e is AuthorizationEvent => e.type === 'authorization' && !phase.late.includes(e)).map((a) => ({ a, phase: i })));
  const rows: ExpectedRow[] = [];
  for (const { p, phase } of payments) {
    const tierIn = (i: number) => phases[i]!.merchants.get(p.merchantId) ?? 'unknown';
    const base = { paymentId: p.paymentId, ts: p.ts, cardId: p.cardId, merchantId: p.merchantId, amount: p.amount };
    const matches = auths.filter(({ a }) => a.paymentId === p.paymentId && Math.abs(a.ts - p.ts) <= WITHIN_MS);
    for (const { a, phase: authPhase } of matches) {
      rows.push({ ...base, authorized: true, authorizationCode: a.authorizationCode, latencyMs: a.ts - p.ts, merchantRiskTier: tierIn(Math.max(phase, authPhase)) });
    }
    if (matches.length === 0) {
      const closedIn = watermarks.findIndex((w) => w >= p.ts + WITHIN_MS + GRACE_MS);
      assert.ok(closedIn >= 0, `payment ${p.paymentId} never closes`);
      rows.push({ ...base, authorized: false, authorizationCode: null, latencyMs: null, merchantRiskTier: tierIn(closedIn) });
    }
  }
  return rows.sort((x, y) => x.paymentId.localeCompare(y.paymentId) || (x.authorizationCode ?? '').localeCompare(y.authorizationCode ?? ''));
}

test('payment authorizations on real Kafka: interval join, merchant enrichment from a compacted topic (latest wins, tombstone, TTL, live update), exact rows in ClickHouse', { timeout: 180_000 }, async (t) => {
  const eventsTopic = uniqueName('payment_events');
  const merchantsTopic = uniqueName('merchants');
  const prefix = `${uniqueName('t')}_`;
  const config = engineConfig();
  const kafka = createKafkajsClient({ brokers: config.kafkaBrokers!, clientId: 'payment-authorizations-test', logger: silentLogger });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopic(eventsTopic, { partitions: 1 }); // one partition: the watermark and lateness follow the send order
  await admin.createTopic(merchantsTopic, { partitions: 2, config: { 'cleanup.policy': 'compact' } });
  const producer = kafka.producer();
  await producer.connect();
  const ch = clickhouse();
  const sendEvents = (events: PaymentFlowEvent[]) => producer.send(eventsTopic, events.map((e) => ({ key: e.paymentId, value: JSON.stringify(e) })));
  const sendMerchants = (records: MerchantRecord[]) =>
    producer.send(merchantsTopic, records.map((r): ProducedMessage => ({ key: r.key, value: r.value === null ? null : typeof r.value === 'string' ? r.value : JSON.stringify(r.value), timestamp: String(r.timestamp) })));

  // Before the engine starts: the merchants table's topic, and the first events. Many other
  // merchants come first, so reading the table takes a while: the events must still wait for it.
  const others = Array.from({ length: FILLER_MERCHANTS }, (_, i) => merchant(`other-${i}`, 'low'));
  for (let i = 0; i < others.length; i += 5_000) await sendMerchants(others.slice(i, i + 5_000));
  const merchantsBefore: MerchantRecord[] = [
    merchant('m1', 'low'),
    merchant('m2', 'medium'),
    merchant('m3', 'low'),
    merchant('m4', 'high', Date.now() - 2 * DAY), // last updated two days ago: older than the 24 h TTL
    { key: 'm5', value: '{"merchantId": "m5", riskTier', timestamp: Date.now() }, // undecodable: skipped, counted
    merchant('m1', 'high'), // the later record wins
    { key: 'm3', value: null, timestamp: Date.now() }, // tombstone: m3 is deleted
  ];
  await sendMerchants(merchantsBefore);
  const phaseA: PaymentFlowEvent[] = [
    pay('p1', 0, 'c1', 'm1', 12.5),
    pay('p2', 5, 'c2', 'm2', 20),
    auth('p1', 30, 'A1'),
    pay('p3', 40, 'c3', 'm3', 7.25),
    pay('p4', 50, 'c1', 'm4', 100),
    pay('p5', 60, 'c2', 'm9', 3.5), // no such merchant
    pay('p6', 70, 'c4', 'm5', 42), // its merchant record was undecodable
    auth('p2', 125, 'A2'), // exactly 2 minutes after p2: matches
    auth('p3', 150, 'A3'),
    auth('p4', 175, 'A4'), // 2 min 5 s after p4: no match
  ];
  await sendEvents(phaseA);

  const topology = createPaymentAuthorizationsTopology({ topic: eventsTopic, merchantsTopic, tablePrefix: prefix });
  const table = topology.tables![0] as LookupTable<Merchant>;
  const engine = await Engine.start(topology, { config, logger: process.env.TEST_LOG ? createLogger('test') : silentLogger, push: false });
  t.after(async () => {
    await engine.stop();
    await producer.disconnect();
    await admin.disconnect();
    await ch.close();
  });
  // The table was complete before the first event was fetched.
  const merchantsA = referenceMerchants(merchantsBefore, Date.now());
  const loaded = new Map<string, Merchant['riskTier']>();
  for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) {
    const row = table.get(m);
    if (row !== undefined) loaded.set(m, row.riskTier);
  }
  assert.deepEqual(loaded, merchantsA);
  await waitFor('phase A processed', async () => engine.stats().processedRecords, (n) => n >= phaseA.length, 60_000);

  // Live: the table follows its topic while the engine runs.
  const merchantsLive = [merchant('m1', 'medium'), merchant('m6', 'high')];
  await sendMerchants(merchantsLive);
  await waitFor('the live merchant updates', async () => [table.get('m1')?.riskTier, table.get('m6')?.riskTier], ([m1, m6]) => m1 === 'medium' && m6 === 'high', 30_000);
  const merchantsB = referenceMerchants([...merchantsBefore, ...merchantsLive], Date.now());
  const phaseB: PaymentFlowEvent[] = [pay('p7', 180, 'c1', 'm1', 15), pay('p8', 185, 'c5', 'm6', 9.75), pay('p9', 190, 'c2', 'm2', 1), auth('p8', 200, 'A8')];
  await sendEvents(phaseB);
  await waitFor('phase B processed', async () => engine.stats().processedRecords, (n) => n >= phaseA.length + phaseB.length, 60_000);

  // An authorization of p7, 4 s after it, but 10 s grace behind the watermark (195 s): late.
  const lateAuth = auth('p7', 184, 'A7');
  await sendEvents([lateAuth]);
  await waitFor('the late authorization processed', async () => engine.stats().processedRecords, (n) => n >= phaseA.length + phaseB.length + 1, 60_000);
  // An event an hour later moves the watermark past every payment: the unmatched ones come out.
  const watermarkEvent = auth('watermark', 3_600, 'W');
  await sendEvents([watermarkEvent]);

  const expected = referenceRows([
    { events: phaseA, late: [], merchants: merchantsA },
    { events: phaseB, late: [], merchants: merchantsB },
    { events: [lateAuth], late: [lateAuth], merchants: merchantsB },
    { events: [watermarkEvent], late: [], merchants: merchantsB },
  ]);
  // Spelled out, so the reference above is checked too.
  assert.deepEqual(
    expected.map((r) => `${r.paymentId}:${r.authorizationCode ?? '-'}:${r.merchantRiskTier}`),
    ['p1:A1:high', 'p2:A2:medium', 'p3:A3:unknown', 'p4:-:unknown', 'p5:-:unknown', 'p6:-:unknown', 'p7:-:medium', 'p8:A8:high', 'p9:-:medium'],
  );
  const rowsTable = `${prefix}payment_authorizations`;
  await waitFor('every row in ClickHouse', () => countRows(ch, rowsTable), (n) => n >= expected.length, 60_000);
  const stored = await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${rowsTable} ORDER BY paymentId, ifNull(authorizationCode, '')`);
  assert.deepEqual(stored.map(fromClickHouse), expected);

  await waitFor('the late record in ClickHouse', () => countRows(ch, `${prefix}late_records`), (n) => n >= 1, 30_000);
  const late = await queryRows<Record<string, unknown>>(ch, `SELECT topology, step, key, event_time, watermark, topic, partition, offset, payload FROM ${prefix}late_records`);
  assert.deepEqual(late.map((l) => ({ ...l, event_time: Number(l.event_time), watermark: Number(l.watermark) })), [
    {
      topology: 'payment-authorizations',
      step: 'payment-authorization',
      key: 'p7',
      event_time: lateAuth.ts,
      watermark: T0 + 200_000 - OUT_OF_ORDERNESS_MS,
      topic: eventsTopic,
      partition: 0,
      offset: String(phaseA.length + phaseB.length),
      payload: JSON.stringify(lateAuth),
    },
  ]);
  assert.equal(await countRows(ch, `${prefix}dead_letters`), 0);

  // The table's metrics: the other merchants and 7 values applied, 1 tombstone, 1 undecodable record skipped.
  const metrics = await engine.metrics.registry.metrics();
  const labels = `{topology="payment-authorizations",table="merchants"}`;
  assert.match(metrics, new RegExp(`tributary_table_updates_total${escapeBraces(labels)} ${FILLER_MERCHANTS + 7}\\n`));
  assert.match(metrics, new RegExp(`tributary_table_deletes_total${escapeBraces(labels)} 1\\n`));
  assert.match(metrics, new RegExp(`tributary_table_invalid_records_total${escapeBraces(labels)} 1\\n`));
});

function escapeBraces(text: string): string {
  return text.replace(/[{}]/g, (c) => `\\${c}`);
}

/** A stored row as the reference writes it: Int64 columns come back as strings, booleans as 0/1. */
function fromClickHouse(row: Record<string, unknown>): ExpectedRow {
  assert.deepEqual(Object.keys(row).sort(), ['amount', 'authorizationCode', 'authorized', 'cardId', 'latencyMs', 'merchantId', 'merchantRiskTier', 'paymentId', 'ts']);
  return {
    paymentId: String(row.paymentId),
    ts: Number(row.ts),
    cardId: String(row.cardId),
    merchantId: String(row.merchantId),
    amount: Number(row.amount),
    authorized: Number(row.authorized) === 1,
    authorizationCode: row.authorizationCode === null ? null : String(row.authorizationCode),
    latencyMs: row.latencyMs === null ? null : Number(row.latencyMs),
    merchantRiskTier: String(row.merchantRiskTier),
  };
}

async function countRows(ch: ReturnType<typeof clickhouse>, table: string): Promise<number> {
  const [row] = await queryRows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`);
  return Number(row!.n);
}
