import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { CircuitBreaker, CircuitOpenError, type CircuitBreakerOptions } from '../../../src/scoring/circuit-breaker.ts';

/** A breaker on a clock the test moves by hand, recording its transitions and the calls it let through. */
function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = { now: 1_000 };
  const transitions: string[] = [];
  const breaker = new CircuitBreaker(
    { failureThreshold: 3, latencyBudget: 100, coolDown: 1_000, now: () => clock.now, ...options },
    { onStateChange: ({ state, previous }) => transitions.push(`${previous}->${state}`) },
  );
  let calls = 0;
  let probes = 0;
  /** One call that takes `ms` on the clock and then succeeds or fails; 'refused' if the breaker did not run it. */
  async function call(outcome: 'ok' | 'fail', ms = 0): Promise<'ok' | 'failed' | 'refused'> {
    try {
      await breaker.execute(async ({ probe }) => {
        calls++;
        if (probe) probes++;
        clock.now += ms;
        if (outcome === 'fail') throw new Error('model down');
        return 0.5;
      });
      return 'ok';
    } catch (error) {
      if (error instanceof CircuitOpenError) return 'refused';
      assert.equal((error as Error).message, 'model down');
      return 'failed';
    }
  }
  return { breaker, clock, transitions, call, counts: () => ({ calls, probes }) };
}

test('closed: fewer than K consecutive failures keep it closed; a success resets the count', async () => {
  const { breaker, call, transitions } = setup();
  assert.equal(await call('fail'), 'failed');
  assert.equal(await call('fail'), 'failed');
  assert.equal(breaker.failures, 2);
  assert.equal(await call('ok'), 'ok');
  assert.equal(breaker.failures, 0);
  assert.equal(await call('fail'), 'failed');
  assert.equal(await call('fail'), 'failed');
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(transitions, []);
});

test('K consecutive failures open it; while open the operation is not called', async () => {
  const { breaker, call, clock, counts, transitions } = setup();
  for (let i = 0; i < 3; i++) assert.equal(await call('fail'), 'failed');
  assert.equal(breaker.state, 'open');
  assert.deepEqual(transitions, ['closed->open']);
  clock.now += 400;
  assert.equal(breaker.retryInMs, 600);
  const before = counts().calls;
  for (let i = 0; i < 5; i++) assert.equal(await call('ok'), 'refused');
  assert.equal(counts().calls, before);
  const refusal = await breaker.execute(async () => 1).catch((error: unknown) => error);
  assert.ok(refusal instanceof CircuitOpenError);
  assert.equal(refusal.message, 'scoring unavailable (circuit open)');
  assert.equal(refusal.retriable, true);
  assert.equal(refusal.retryInMs, 600);
  assert.equal(breaker.state, 'open');
});

test('after the cool-down one probe runs; others are refused while it runs; success closes', async () => {
  const { breaker, call, clock, counts, transitions } = setup();
  for (let i = 0; i < 3; i++) await call('fail');
  clock.now += 999;
  assert.equal(await call('ok'), 'refused');
  clock.now += 1;
  let finishProbe!: () => void;
  const probe = breaker.execute(({ probe }) => {
    assert.equal(probe, true);
    return new Promise<string>((resolve) => (finishProbe = () => resolve('scored')));
  });
  assert.equal(breaker.state, 'half-open');
  assert.equal(await call('ok'), 'refused'); // only one probe at a time
  finishProbe();
  assert.equal(await probe, 'scored');
  assert.equal(breaker.state, 'closed');
  assert.equal(await call('ok'), 'ok');
  assert.equal(counts().probes, 0); // the call after closing is an ordinary one
  assert.deepEqual(transitions, ['closed->open', 'open->half-open', 'half-open->closed']);
});

test('a failed probe re-opens with the cool-down doubled up to maxCoolDown; closing resets it', async () => {
  const { breaker, call, clock, transitions } = setup({ maxCoolDown: 3_000 });
  for (let i = 0; i < 3; i++) await call('fail');
  const coolDowns: number[] = [];
  for (let round = 0; round < 4; round++) {
    coolDowns.push(breaker.retryInMs);
    clock.now += breaker.retryInMs;
    assert.equal(await call('fail'), 'failed'); // the probe
    assert.equal(breaker.state, 'open');
  }
  coolDowns.push(breaker.retryInMs);
  assert.deepEqual(coolDowns, [1_000, 2_000, 3_000, 3_000, 3_000]);
  clock.now += 3_000;
  assert.equal(await call('ok'), 'ok');
  assert.equal(breaker.state, 'closed');
  for (let i = 0; i < 3; i++) await call('fail');
  assert.equal(breaker.retryInMs, 1_000);
  assert.equal(transitions.filter((t) => t === 'half-open->open').length, 4);
});

test('calls over the latency budget count as failures but return their result', async () => {
  const { breaker, call, clock } = setup();
  assert.equal(await call('ok', 101), 'ok');
  assert.equal(await call('ok', 100), 'ok'); // exactly on budget is fine and resets the count
  assert.equal(breaker.failures, 0);
  assert.equal(await call('ok', 150), 'ok');
  assert.equal(await call('fail', 1), 'failed'); // slow and failed calls add up
  assert.equal(await call('ok', 5_000), 'ok');
  assert.equal(breaker.state, 'open');
  clock.now += 1_000;
  assert.equal(await call('ok', 101), 'ok'); // a slow probe: its result is used, the circuit re-opens
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.retryInMs, 2_000);
  clock.now += 2_000;
  assert.equal(await call('ok', 20), 'ok');
  assert.equal(breaker.state, 'closed');
});

test('without a latency budget only failures count', async () => {
  const { breaker, call } = setup({ latencyBudget: undefined });
  for (let i = 0; i < 10; i++) await call('ok', 1e9);
  assert.equal(breaker.state, 'closed');
});

test('outcomes of calls admitted before a transition do not move the new state', async () => {
  const { breaker, call, clock } = setup({ failureThreshold: 1 });
  let failLate!: () => void;
  const late = breaker.execute(() => new Promise((_, reject) => (failLate = () => reject(new Error('late')))));
  assert.equal(await call('fail'), 'failed');
  assert.equal(breaker.state, 'open');
  clock.now += 1_000;
  let finishProbe!: () => void;
  const probe = breaker.execute(() => new Promise<void>((resolve) => (finishProbe = resolve)));
  failLate(); // admitted while closed: must not fail the probe
  await assert.rejects(late, /late/);
  assert.equal(breaker.state, 'half-open');
  finishProbe();
  await probe;
  assert.equal(breaker.state, 'closed');
});

test('every transition is reported once, in order', async () => {
  const { call, clock, transitions } = setup({ failureThreshold: 1 });
  await call('fail');
  clock.now += 1_000;
  await call('fail');
  clock.now += 2_000;
  await call('ok');
  assert.deepEqual(transitions, ['closed->open', 'open->half-open', 'half-open->open', 'open->half-open', 'half-open->closed']);
});

test('durations accept text; invalid settings are ConfigErrors naming the field', () => {
  const breaker = new CircuitBreaker({ failureThreshold: 1, latencyBudget: '250ms', coolDown: '30s', now: () => 0 });
  assert.equal(breaker.state, 'closed');
  const field = (options: CircuitBreakerOptions) => {
    try {
      new CircuitBreaker(options, { field: 'fraud-score.breaker' });
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.field;
    }
    assert.fail('expected a ConfigError');
  };
  assert.equal(field({ failureThreshold: 0, coolDown: 1 }), 'fraud-score.breaker.failureThreshold');
  assert.equal(field({ failureThreshold: 1.5, coolDown: 1 }), 'fraud-score.breaker.failureThreshold');
  assert.equal(field({ failureThreshold: 1, coolDown: 'soon' }), 'fraud-score.breaker.coolDown');
  assert.equal(field({ failureThreshold: 1, coolDown: 1, latencyBudget: 0 }), 'fraud-score.breaker.latencyBudget');
  assert.equal(field({ failureThreshold: 1, coolDown: '10s', maxCoolDown: '5s' }), 'fraud-score.breaker.maxCoolDown');
});
