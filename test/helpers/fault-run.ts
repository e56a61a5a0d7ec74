import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { Engine } from '../../src/runtime/engine.ts';
import { CardPaymentModel, type Payment } from '../../src/sources/generator/card-payments.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import type { EngineConfig } from '../../src/topology/config.ts';
import { createCardFraudTopology } from '../../topologies/card-fraud.ts';
import { byCardAndEnd, inCents, referenceCardFeatures, toFeatures } from './fraud-reference.ts';
import { engineConfig, queryRows, uniqueName, waitFor } from './services.ts';
import { createPaymentsTopic, type PaymentsTopic } from './payments-topic.ts';
import { PrivateServices } from './private-services.ts';

export const PARTITIONS = 3;

/**
 * One fault-suite run: private Kafka, ClickHouse and Redis (so the fault can stop them), a topic
 * of `events` card payments over event time plus one event per partition that closes every
 * window, and the card-fraud topology with durable window state on them.
 */
export class FaultRun {
  readonly payments: Payment[];
  readonly prefix = `${uniqueName('f')}_`;
  engine: Engine | null = null;
  private peakRss = 0;

  private constructor(
    readonly services: PrivateServices,
    readonly config: EngineConfig,
    private readonly kafka: PaymentsTopic,
    readonly ch: ClickHouseClient,
    events: number,
    seed: number,
  ) {
    const generator = new CardPaymentModel({ seed, cards: 300, lateShare: 0, fraudRate: 0.01 });
    const start = Date.UTC(2026, 10, 3, 9, 0, 0);
    this.payments = Array.from({ length: events }, (_, i) => generator.next(start + i * 60).payment);
  }

  static async start(t: TestContext, options: { events: number; seed: number; config?: Partial<EngineConfig> }): Promise<FaultRun> {
    const services = await PrivateServices.start();
    t.after(async () => {
      // Runs only when what follows failed before registering the full clean-up below.
      if (!cleanUpRegistered) await services.stop();
    });
    let cleanUpRegistered = false;
    const config = engineConfig({ kafkaBrokers: [services.kafkaBrokers], clickhouseUrl: services.clickhouseUrl, redisUrl: services.redisUrl, windowState: 'redis', maxInFlightRecords: 5_000, ...options.config });
    const kafka = await createPaymentsTopic(config.kafkaBrokers!, { partitions: PARTITIONS });
    const ch = createClient({ url: services.clickhouseUrl });
    const run = new FaultRun(services, config, kafka, ch, options.events, options.seed);
    cleanUpRegistered = true;
    const sampler = setInterval(() => (run.peakRss = Math.max(run.peakRss, process.memoryUsage().rss)), 100);
    t.after(async () => {
      clearInterval(sampler);
      // Bounded: a failed test may leave the engine retrying a service forever.
      await Promise.race([run.engine?.stop().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
      await kafka.close();
      await ch.close();
      // Last: the engine's final flush and commit need the services.
      await services.stop();
    });
    return run;
  }

  async startEngine(): Promise<Engine> {
    this.engine = await Engine.start(createCardFraudTopology({ topic: this.topic, tablePrefix: this.prefix }), { config: this.config, logger: process.env.TEST_LOG ? createLogger('fault') : silentLogger, push: false });
    return this.engine;
  }

  get topic(): string {
    return this.kafka.topic;
  }

  /** Produces payments [from, to) keyed by card (so each card stays in its partition's order). */
  send(from: number, to: number): Promise<void> {
    return this.kafka.send(this.payments.slice(from, to));
  }

  /** One event per partition ten minutes after the last payment: every window closes. */
  sendWatermarkEvents(): Promise<void> {
    return this.kafka.sendWatermarkEvents(this.payments);
  }

  /** Largest RSS of this process (engine and test) sampled every 100 ms so far, in MiB. */
  get peakRssMiB(): number {
    return this.peakRss / 2 ** 20;
  }

  async count(sql: string): Promise<number> {
    return countRows(this.ch, sql);
  }

  /** Waits until every window and prediction is in ClickHouse; returns the seconds it took. */
  waitForResults(timeoutMs = 180_000): Promise<number> {
    return waitForCardFraudResults(this.ch, this.prefix, this.payments, PARTITIONS, timeoutMs, () => `engine ${JSON.stringify(this.engine?.stats())}`);
  }

  assertExactResults(): Promise<void> {
    return assertExactCardFraudResults(this.ch, this.prefix, this.payments, PARTITIONS);
  }
}

async function countRows(ch: ClickHouseClient, sql: string): Promise<number> {
  return Number((await queryRows<{ n: string }>(ch, sql))[0]!.n);
}

/**
 * Waits until every window, event and prediction of a card-fraud run over `payments` (plus one
 * watermark event per partition) is in the tables under `prefix`; returns the seconds it took.
 */
export async function waitForCardFraudResults(ch: ClickHouseClient, prefix: string, payments: readonly Payment[], partitions: number, timeoutMs = 180_000, describe: () => string = () => ''): Promise<number> {
  const started = performance.now();
  const windows = referenceCardFeatures(payments).length;
  const events = payments.length + partitions;
  await waitFor('every window in ClickHouse', () => countRows(ch, `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}card_features`), (n) => n >= windows, timeoutMs).catch(async (error) => {
    const late = await countRows(ch, `SELECT count() AS n FROM ${prefix}late_records`);
    const seen = await countRows(ch, `SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`);
    throw new Error(`${error.message} (of ${windows}); late records ${late}; distinct events ${seen} of ${events}; ${describe()}`);
  });
  await waitFor('every event in ClickHouse', () => countRows(ch, `SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), (n) => n >= events, timeoutMs);
  await waitFor('every prediction in ClickHouse', () => countRows(ch, `SELECT uniqExact(cardId, windowEnd) AS n FROM ${prefix}fraud_predictions`), (n) => n >= windows, timeoutMs);
  return (performance.now() - started) / 1000;
}

/**
 * The fault suite's exact checks: the raw table holds exactly N distinct events and, after a
 * final merge, exactly N rows; window features equal the fault-free reference; one prediction
 * row per window.
 */
export async function assertExactCardFraudResults(ch: ClickHouseClient, prefix: string, payments: readonly Payment[], partitions: number): Promise<void> {
  const n = payments.length + partitions;
  assert.equal(await countRows(ch, `SELECT uniqExact(_partition, _offset) AS n FROM ${prefix}payments`), n, 'distinct events');
  for (const table of ['payments', 'card_features', 'fraud_predictions']) await ch.command({ query: `OPTIMIZE TABLE ${prefix}${table} FINAL` });
  assert.equal(await countRows(ch, `SELECT count() AS n FROM ${prefix}payments`), n, 'rows after a final merge');
  const expected = referenceCardFeatures(payments);
  const features = (await queryRows<Record<string, unknown>>(ch, `SELECT * FROM ${prefix}card_features ORDER BY cardId, windowEnd`)).map(toFeatures);
  assert.equal(features.length, expected.length, 'one row per card and window');
  assert.deepEqual(features.sort(byCardAndEnd).map(inCents), expected.map(inCents));
  assert.equal(await countRows(ch, `SELECT count() AS n FROM ${prefix}fraud_predictions`), expected.length, 'one prediction per window');
}
