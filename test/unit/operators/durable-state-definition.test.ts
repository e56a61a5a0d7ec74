import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { untrackedToken } from '../../../src/core/ack.ts';
import type { Batch } from '../../../src/core/batch.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { StateRegistry } from '../../../src/core/step-state.ts';
import { tumbling } from '../../../src/operators/windows/tumbling.ts';
import { aggregate } from '../../../src/operators/windows/aggregate.ts';
import { count, sum } from '../../../src/operators/windows/aggregations.ts';

function batch(registry: StateRegistry, values: number[]): Batch<number> {
  return { records: values.map((v, i) => ({ value: v, key: 'k', eventTime: i, topic: 't', partition: 0, offset: String(i) })), watermark: -Infinity, acks: [untrackedToken()], side: { late: [], deadLetters: [], state: registry } };
}

test('restoring a step whose aggregations changed under the same name is refused with the fix', () => {
  const first = new StateRegistry({ durable: true });
  const input = new Subject<Batch<number>>();
  input.pipe(tumbling<number>('1m'), aggregate({ n: count() }, { name: 'per-key' })).subscribe();
  input.next(batch(first, [1, 2, 3]));
  const saved = first.snapshot();

  const second = new StateRegistry({ durable: true, restored: saved });
  const again = new Subject<Batch<number>>();
  let failure: unknown;
  again.pipe(tumbling<number>('1m'), aggregate({ n: count(), total: sum((v: number) => v) }, { name: 'per-key' })).subscribe({ error: (error) => (failure = error) });
  again.next(batch(second, [4]));
  assert.ok(failure instanceof ConfigError, String(failure));
  assert.match(failure.message, /step "per-key".*checkpointed state was made by another definition \(tumbling-60000ms\/final\/0: n; now tumbling-60000ms\/final\/0: n,total\).*Fix: give the changed step a new name/);
});

test('session, sliding and join steps refuse state saved by another definition too', async () => {
  const { sessionWindows } = await import('../../../src/operators/windows/session.ts');
  const first = new StateRegistry({ durable: true });
  const input = new Subject<Batch<number>>();
  input.pipe(sessionWindows<number, { n: ReturnType<typeof count> }>({ gap: '30s', name: 'visits' }, { n: count() })).subscribe();
  input.next(batch(first, [1]));
  const second = new StateRegistry({ durable: true, restored: first.snapshot() });
  const again = new Subject<Batch<number>>();
  let failure: unknown;
  again.pipe(sessionWindows<number, { n: ReturnType<typeof count> }>({ gap: '1m', name: 'visits' }, { n: count() })).subscribe({ error: (error) => (failure = error) });
  again.next(batch(second, [2]));
  assert.ok(failure instanceof ConfigError, String(failure));
  assert.match(failure.message, /step "visits".*another definition \(session gap 30000 grace 0: n; now session gap 60000 grace 0: n\)/);
});
