import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../src/client/backoff.ts';
import { TypedEmitter } from '../../../src/client/typed-emitter.ts';

test('backoff grows by the factor up to the cap, with jitter either way', () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, {}, mid)), [500, 1000, 2000, 4000, 8000, 10000, 10000]);
  assert.equal(backoffDelay(0, {}, () => 0), 400);
  assert.equal(backoffDelay(0, {}, () => 1), 600);
  assert.equal(backoffDelay(2, { initialDelayMs: 100, factor: 3, maxDelayMs: 500, jitter: 0 }), 500);
});

test('a throwing listener neither stops the others nor the emitter', () => {
  const failures: unknown[] = [];
  class Emitter extends TypedEmitter<{ ping: (n: number) => void }> {
    fire(n: number) {
      this.emit('ping', n);
    }
    protected override listenerFailed(error: unknown): void {
      failures.push(error);
    }
  }
  const emitter = new Emitter();
  const seen: number[] = [];
  emitter.on('ping', () => {
    throw new Error('listener bug');
  });
  const off = emitter.on('ping', (n) => seen.push(n));
  emitter.fire(1);
  off();
  emitter.fire(2);
  assert.deepEqual(seen, [1]);
  assert.deepEqual(failures.map((e) => (e as Error).message), ['listener bug', 'listener bug']);
});
