import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AckToken } from '../../../src/core/ack.ts';
import type { StreamRecord } from '../../../src/core/batch.ts';
import { FileKeyStore } from '../../../src/governance/file-key-store.ts';
import type { KeyStore } from '../../../src/governance/key-store.ts';
import { Keyring } from '../../../src/governance/keyring.ts';
import { detokenize, detokenizeAll, openDeadLetter } from '../../../src/governance/detokenize.ts';
import { clickhouseDeadLetters } from '../../../src/sinks/clickhouse/dead-letter-table.ts';
import { clickhouseLateRecords } from '../../../src/sinks/clickhouse/late-table.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { SinkGovernor } from '../../../src/runtime/sink-governor.ts';
import type { PushServer } from '../../../src/sinks/push-port.ts';
import type { SinkEnvironment, SinkSpec } from '../../../src/sinks/sink.ts';
import type { AnyTopology } from '../../../src/topology/define-topology.ts';
import { CARD_FRAUD_GOVERNANCE, createCardFraudTopology } from '../../../topologies/card-fraud.ts';
import { SCHEMAS_DIR } from '../../helpers/services.ts';
import { storedKeyText } from '../../helpers/key-files.ts';

/** A key store whose reads wait until `open()`: a slow Redis, to see batches queue in order. */
class GatedStore implements KeyStore {
  readonly description = 'gated';
  reads = 0;
  private gate: Promise<void> = Promise.resolve();
  private release: () => void = () => {};
  constructor(private readonly inner: KeyStore) {}
  hold() {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }
  resume() {
    this.release();
  }
  async close() {}
  async get(ids: readonly string[]) {
    this.reads++;
    await this.gate;
    return this.inner.get(ids);
  }
  putIfAbsent(entries: ReadonlyMap<string, string>) {
    return this.inner.putIfAbsent(entries);
  }
  delete(id: string) {
    return this.inner.delete(id);
  }
}

interface Published {
  channel: string;
  items: unknown[];
  keys: unknown[] | undefined;
  view: string | undefined;
}

async function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'governed-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = new FileKeyStore(path.join(dir, 'keys'));
  const store = new GatedStore(files);
  const keyring = await Keyring.open(store);
  const hmacKey = Buffer.from(storedKeyText(path.join(dir, 'keys'), 'hmac.1').slice(4), 'base64');
  const pseudonym = (id: string) => `h1_${createHmac('sha256', hmacKey).update(id).digest().subarray(0, 16).toString('base64url')}`;
  const topology = { ...(createCardFraudTopology() as AnyTopology), governance: CARD_FRAUD_GOVERNANCE };
  const governor = new SinkGovernor(topology, SCHEMAS_DIR, async () => keyring);
  const published: Published[] = [];
  const declared: string[] = [];
  const server: PushServer = {
    port: 0,
    publish: (channel, items, keys, view) => void published.push({ channel, items: [...items], keys: keys && [...keys], view }),
    declareAdminView: (channel) => void declared.push(channel),
    close: async () => {},
  };
  const fatal: unknown[] = [];
  const env: SinkEnvironment = {
    topology: 'card-fraud', logger: silentLogger, metrics: new Metrics(), schemasDir: SCHEMAS_DIR,
    clickhouse: () => Promise.reject(new Error('unused')), state: () => Promise.reject(new Error('unused')), kafkaProducer: () => Promise.reject(new Error('unused')),
    push: () => server, fail: (error) => fatal.push(error),
  };
  return { topology, governor, env, published, declared, fatal, store, files, keyring, pseudonym };
}

const prediction = (cardId: string, amount: number) => ({ cardId, windowEnd: 60_000, probability: 0.73125, model: 'fraud-lr@1', count1m: 1, sum1m: amount, max1m: amount, count5m: 1, sum5m: amount, max5m: amount, featureVersion: 'v1', source: 'model', modelVersion: '1', challengerModel: '', challengerProbability: null });
const record = <T>(key: string, value: T): StreamRecord<T> => ({ key, value, eventTime: 59_999, topic: 'payments', partition: 0, offset: '' });

test('a channel publishes an analyst view (pseudonyms, 2 significant digits) and an admin view (tokens that detokenize)', async (t) => {
  const { topology, governor, env, published, declared, files, pseudonym } = await setup(t);
  const spec = (topology.sinks.predictions as SinkSpec<StreamRecord<unknown>>[]).find((s) => s.kind === 'websocket')!;
  const sink = governor.create(spec, 'output', env);
  await sink.open();
  assert.deepEqual(declared, ['fraud']);
  sink.write([record('card-1', prediction('card-1', 31337.77)), record('card-2', prediction('card-2', 12.5))], []);
  await sink.flush();
  assert.deepEqual(published.map((p) => [p.channel, p.view]), [['fraud', undefined], ['fraud', 'admin']]);
  const [analyst, admin] = published;
  assert.deepEqual(analyst!.keys, [pseudonym('card-1'), pseudonym('card-2')]);
  assert.deepEqual(analyst!.items[0], { ...prediction(pseudonym('card-1'), 31000), probability: 0.73 });
  assert.deepEqual(analyst!.items[1], { ...prediction(pseudonym('card-2'), 12), probability: 0.73 });
  assert.deepEqual(admin!.keys, analyst!.keys, 'keys stay stable pseudonyms (filters, snapshots) in both views');
  const first = admin!.items[0] as Record<string, unknown>;
  for (const field of ['cardId', 'sum1m', 'max1m', 'sum5m', 'max5m', 'probability']) assert.match(String(first[field]), new RegExp(`^tok1\\.${pseudonym('card-1')}\\.`), field);
  assert.equal(first.count1m, 1);
  assert.equal(first.challengerProbability, null);
  assert.deepEqual(await detokenizeAll([first.cardId, first.sum1m, first.probability] as string[], files), ['card-1', 31337.77, 0.73125]);
  assert.doesNotMatch(JSON.stringify(published), /card-1|card-2|31337|12\.5/);
});

test('batches that wait for subject keys keep their order and hold their acks until written', async (t) => {
  const { topology, governor, env, published, store } = await setup(t);
  const spec = (topology.sinks.predictions as SinkSpec<StreamRecord<unknown>>[]).find((s) => s.kind === 'websocket')!;
  const sink = governor.create(spec, 'output', env);
  await sink.open();
  const done: number[] = [];
  const token = (n: number) => new AckToken('payments:0', BigInt(n), 1, () => done.push(n));
  store.hold();
  const [a, b, c] = [token(1), token(2), token(3)];
  sink.write([record('card-new', prediction('card-new', 5))], [a]);
  sink.write([record('card-new', prediction('card-new', 6))], [b]);
  sink.write([record('card-other', prediction('card-other', 7))], [c]);
  for (const t of [a, b, c]) t.release();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(done, [], 'acks held while the keys are read');
  assert.equal(published.length, 0);
  store.resume();
  await sink.flush();
  assert.deepEqual(done, [1, 2, 3]);
  assert.deepEqual(published.filter((p) => p.view === undefined).map((p) => (p.items[0] as { sum1m: number }).sum1m), [5, 6, 7]);
  // Keys now in memory: the next batch is masked and written at once, no store read.
  const reads = store.reads;
  sink.write([record('card-new', prediction('card-new', 8))], []);
  assert.equal(published.length, 8);
  assert.equal(store.reads, reads);
});

test('dead letters: raw bytes and error text sealed, the key pseudonymized; late records masked like rows', async (t) => {
  const { topology, env, keyring, files, pseudonym } = await setup(t);
  const written: unknown[] = [];
  const capture = <R>(spec: SinkSpec<R>): SinkSpec<R> => ({
    ...spec,
    create: () => ({ name: 'capture', open: async () => {}, write: (rows: readonly R[]) => void written.push(...rows), isFull: () => false, whenReady: async () => {}, flush: async () => {}, close: async () => {} }),
  });
  const letters = capture(clickhouseDeadLetters('dl'));
  const late = capture(clickhouseLateRecords('late'));
  const governor = new SinkGovernor({ ...topology, deadLetter: [letters], late }, SCHEMAS_DIR, async () => keyring);
  const raw = Buffer.from('\u0000card-secret 31337.77');
  const letterSink = governor.create(letters, 'deadLetter', env);
  await letterSink.open();
  letterSink.write([{ step: 'decode', topic: 'payments', partition: 0, offset: '5', error: 'MALFORMED: truncated after "card-secret"', raw, key: 'card-secret', timestamp: 1 }], []);
  const lateSink = governor.create(late, 'late', env);
  await lateSink.open();
  const payment = { paymentId: 'pay-9', cardId: 'card-9', merchantId: 'm-9', amount: 31337.77, currency: 'EUR', country: 'FR', ts: 1 };
  lateSink.write([{ step: 'card-1m', key: 'card-9', eventTime: 1, watermark: 120_000, topic: 'payments', partition: 0, offset: '7', value: payment }], []);
  await letterSink.flush();
  await lateSink.flush();
  const [letter, lateRecord] = written as [{ raw: Uint8Array; error: string; key: string; offset: string }, { key: string; value: Record<string, unknown> }];
  assert.equal(letter.offset, '5');
  assert.equal(letter.key, pseudonym('card-secret'));
  assert.ok(!Buffer.from(letter.raw).includes('card-secret'));
  assert.doesNotMatch(letter.error, /card-secret/);
  assert.deepEqual(await openDeadLetter(letter, files), { raw, error: 'MALFORMED: truncated after "card-secret"' });
  assert.equal(lateRecord.key, pseudonym('card-9'));
  assert.deepEqual({ ...lateRecord.value, amount: 'token' }, { paymentId: pseudonym('pay-9'), cardId: pseudonym('card-9'), merchantId: pseudonym('m-9'), amount: 'token', currency: 'EUR', country: pseudonym('FR'), ts: 1 });
  assert.equal(await detokenize(lateRecord.value.amount as string, files), 31337.77);
});

test('the input table starts creating subject keys as rows arrive, so a later tokenized write finds them in memory', async (t) => {
  const { topology, env, store, keyring, published, pseudonym } = await setup(t);
  const written: unknown[] = [];
  const rawSpec = (topology.sinks.raw as SinkSpec<StreamRecord<unknown>>[])[0]!;
  const raw: SinkSpec<StreamRecord<unknown>> = {
    ...rawSpec,
    create: () => ({ name: 'capture', open: async () => {}, write: (rows) => void written.push(...rows), isFull: () => false, whenReady: async () => {}, flush: async () => {}, close: async () => {} }),
  };
  const governor = new SinkGovernor({ ...topology, sinks: { ...topology.sinks, raw: [raw] } }, SCHEMAS_DIR, async () => keyring);
  const rawSink = governor.create(raw, 'output', env);
  await rawSink.open();
  const payment = (paymentId: string, cardId: string) => ({ paymentId, cardId, merchantId: 'm-1', amount: 12.5, currency: 'EUR', country: 'FR', ts: 1 });
  const reads = store.reads;
  store.hold();
  rawSink.write([record('card-a', payment('pay-1', 'card-a')), record('card-b', payment('pay-2', 'card-b')), record('card-a', payment('pay-3', 'card-a'))], []);
  assert.equal(store.reads, reads + 1, 'the write started one store read for its subjects');
  rawSink.write([record('card-c', payment('pay-4', 'card-c'))], []);
  assert.equal(store.reads, reads + 1, 'one prefetch at a time: the next batch waits for it');
  await rawSink.flush();
  assert.deepEqual(written.map((row) => (row as StreamRecord<Record<string, unknown>>).value.cardId), [pseudonym('card-a'), pseudonym('card-b'), pseudonym('card-a'), pseudonym('card-c')], 'the table rows need no key: masked without waiting for the read');
  store.resume();
  // Loading the same subjects joins that read instead of starting another.
  const keys = await keyring.loadKeys(new Set([pseudonym('card-a'), pseudonym('card-b')]));
  assert.equal(keys.size, 2);
  assert.equal(store.reads, reads + 2, 'the prefetch, then one for what the writes meanwhile asked for');
  assert.equal((await keyring.loadKeys(new Set([pseudonym('card-c')]))).size, 1);
  assert.equal(store.reads, reads + 2);
  const spec = (topology.sinks.predictions as SinkSpec<StreamRecord<unknown>>[]).find((s) => s.kind === 'websocket')!;
  const ws = governor.create(spec, 'output', env);
  await ws.open();
  ws.write([record('card-a', prediction('card-a', 5)), record('card-b', prediction('card-b', 6))], []);
  assert.deepEqual(published.map((p) => p.view), [undefined, 'admin'], 'written at once: the keys were in memory');
  assert.equal(store.reads, reads + 2);
});
