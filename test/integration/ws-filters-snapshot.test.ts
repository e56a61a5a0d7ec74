import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamRecord } from '../../src/core/batch.ts';
import type { SinkEnvironment } from '../../src/sinks/sink.ts';
import { websocketChannel } from '../../src/sinks/websocket-channel.ts';
import { TestClient, withServer } from './ws-test-client.ts';

interface Prediction {
  cardId?: string;
  probability: number | string;
  source: string;
  flagged: boolean | null;
}

const live: Array<[key: string | undefined, Prediction]> = [
  ['c1', { probability: 0.9, source: 'model', flagged: true }], // seq 1
  ['c2', { probability: 0.6, source: 'fallback', flagged: false }], // seq 2
  ['c3', { probability: 0.75, source: 'model', flagged: null }], // seq 3
  ['c1', { probability: 0.2, source: 'model', flagged: false }], // seq 4
  ['c2', { probability: 0.95, source: 'model', flagged: true }], // seq 5
  [undefined, { probability: 0.99, source: 'model', flagged: true }], // seq 6: no key
  ['c4', { probability: 'high', source: 'model', flagged: true }], // seq 7: not a number
];

/** Reads data frames until `count` arrived; returns their sequence numbers. */
async function seqs(client: TestClient, count: number): Promise<number[]> {
  const got: number[] = [];
  while (got.length < count) {
    const frame = await client.next<{ type: string; seq: number }>();
    assert.equal(frame.type, 'data');
    got.push(frame.seq);
  }
  await client.expectNothingPending();
  return got;
}

test('filters by key, minimum score and field equality select exactly the matching items', () =>
  withServer(async (server) => {
    const cases: Array<[filter: Record<string, unknown> | undefined, expected: number[]]> = [
      [undefined, [1, 2, 3, 4, 5, 6, 7]],
      [{ keys: ['c1', 'c3'] }, [1, 3, 4]],
      [{ min: { probability: 0.7 } }, [1, 3, 5, 6]],
      [{ equals: { source: 'model' } }, [1, 3, 4, 5, 6, 7]],
      [{ equals: { flagged: true } }, [1, 5, 6, 7]],
      [{ equals: { flagged: null } }, [3]],
      [{ keys: ['c1', 'c2'], min: { probability: 0.5 }, equals: { source: 'model' } }, [1, 5]],
      [{ min: { probability: 0.5, missing: 1 } }, []],
      [{}, [1, 2, 3, 4, 5, 6, 7]], // an empty filter is no filter
    ];
    const clients = await Promise.all(cases.map(() => TestClient.connect(server)));
    await Promise.all(clients.map((client, i) => client.subscribeSynced('fraud', { snapshot: false, ...(cases[i]![0] ? { filter: cases[i]![0] } : {}) })));
    server.publish('fraud', live.slice(0, 3).map(([, p]) => p), live.slice(0, 3).map(([key]) => key));
    server.publish('fraud', live.slice(3).map(([, p]) => p), live.slice(3).map(([key]) => key));
    for (const [i, [filter, expected]] of cases.entries()) {
      assert.deepEqual(await seqs(clients[i]!, expected.length), expected, `filter ${JSON.stringify(filter)}`);
    }
    await Promise.all(clients.map((client) => client.close()));
  }));

/** Sequence numbers of catch-up frames, batch frames unpacked into their items. */
function seqsOf(frames: Array<Record<string, unknown>>): unknown[] {
  return frames.flatMap((frame) => (frame.type === 'batch' ? (frame.items as Array<Record<string, unknown>>) : [frame])).map((frame) => frame.seq);
}

test('field filters select the same items from the snapshot and from a replay as from live publishes, in single and batch frames', () =>
  withServer(async (server) => {
    server.publish('fraud', live.map(([, item]) => item), live.map(([key]) => key));
    const { epoch } = await (await TestClient.connect(server)).subscribe('fraud', { snapshot: false });
    const filter = { min: { probability: 0.5 }, equals: { source: 'model' } };
    // Latest per key: c1 seq 4 (0.2), c2 seq 5 (0.95 model), c3 seq 3 (0.75 model), c4 seq 7 ('high'); no-key seq 6 is not in the snapshot.
    for (const batch of [false, true]) {
      const snapshot = await TestClient.connect(server);
      assert.deepEqual(seqsOf(await snapshot.subscribeSynced('fraud', { filter, batch })), [3, 5], `snapshot, batch ${batch}`);
      // Every item after seq 0, in order: 1 (0.9 model), 3 (0.75 model), 5 (0.95 model), 6 (0.99 model, no key).
      const replay = await TestClient.connect(server);
      assert.deepEqual(seqsOf(await replay.subscribeSynced('fraud', { filter, batch, resumeFrom: 0, epoch })), [1, 3, 5, 6], `replay, batch ${batch}`);
      const flagged = await TestClient.connect(server);
      assert.deepEqual(seqsOf(await flagged.subscribeSynced('fraud', { filter: { equals: { flagged: null } }, batch, resumeFrom: 0, epoch })), [3], `replay of flagged null, batch ${batch}`);
      await Promise.all([snapshot.close(), replay.close(), flagged.close()]);
    }
  }));

test('a filtered frame is the very frame everyone else gets', () =>
  withServer(async (server) => {
    const all = await TestClient.connect(server);
    const some = await TestClient.connect(server);
    await all.subscribeSynced('fraud');
    await some.subscribeSynced('fraud', { filter: { keys: ['c1'] } });
    server.publish('fraud', [{ probability: 0.5 }], ['c1']);
    const expected = '{"type":"data","channel":"fraud","seq":1,"key":"c1","data":{"probability":0.5}}';
    assert.equal(await all.nextRaw(), expected);
    assert.equal(await some.nextRaw(), expected);
    await Promise.all([all.close(), some.close()]);
  }));

test('subscribe sends the latest item per key (filtered), then synced, then live items', () =>
  withServer(async (server) => {
    server.publish('fraud', [{ v: 'c1-1' }, { v: 'c2-1' }, { v: 'c1-2' }, { v: 'c3-1' }, { v: 'none' }, { v: 'c2-2' }], ['c1', 'c2', 'c1', 'c3', undefined, 'c2']);
    const fresh = await TestClient.connect(server);
    const ack = await fresh.subscribe('fraud');
    assert.equal(ack.seq, 6);
    assert.equal(await fresh.nextRaw(), '{"type":"data","channel":"fraud","seq":3,"key":"c1","data":{"v":"c1-2"}}');
    assert.equal(await fresh.nextRaw(), '{"type":"data","channel":"fraud","seq":4,"key":"c3","data":{"v":"c3-1"}}');
    assert.equal(await fresh.nextRaw(), '{"type":"data","channel":"fraud","seq":6,"key":"c2","data":{"v":"c2-2"}}');
    assert.equal(await fresh.nextRaw(), '{"type":"synced","channel":"fraud","seq":6}');

    const filtered = await TestClient.connect(server);
    const snapshot = await filtered.subscribeSynced('fraud', { filter: { keys: ['c2', 'c9'] } });
    assert.deepEqual(snapshot, [{ type: 'data', channel: 'fraud', seq: 6, key: 'c2', data: { v: 'c2-2' } }]);

    const none = await TestClient.connect(server);
    assert.deepEqual(await none.subscribeSynced('fraud', { snapshot: false }), []);

    server.publish('fraud', [{ v: 'c3-2' }], ['c3']);
    const next = { type: 'data', channel: 'fraud', seq: 7, key: 'c3', data: { v: 'c3-2' } };
    assert.deepEqual(await fresh.next(), next);
    assert.deepEqual(await none.next(), next);
    await filtered.expectNothingPending();
    await Promise.all([fresh.close(), filtered.close(), none.close()]);
  }));

test('the snapshot keeps the most recently updated keys up to its bound, and accounts its bytes', () =>
  withServer(
    async (server) => {
      server.publish('fraud', Array.from({ length: 10 }, (_, i) => ({ i })), Array.from({ length: 10 }, (_, i) => `k${i}`));
      server.publish('fraud', [{ i: 'again' }], ['k7']);
      const client = await TestClient.connect(server);
      const snapshot = await client.subscribeSynced('fraud');
      assert.deepEqual(
        snapshot.map((frame) => [frame.seq, frame.key]),
        [[9, 'k8'], [10, 'k9'], [11, 'k7']],
      );
      const frames = ['{"type":"data","channel":"fraud","seq":9,"key":"k8","data":{"i":8}}', '{"type":"data","channel":"fraud","seq":10,"key":"k9","data":{"i":9}}', '{"type":"data","channel":"fraud","seq":11,"key":"k7","data":{"i":"again"}}'];
      assert.equal(server.stats().snapshotBytes, frames.reduce((sum, frame) => sum + Buffer.byteLength(frame), 0));
      await client.close();
    },
    { snapshot: { keys: 3 } },
  ));

test('snapshot.keys 0 turns snapshots off; keyless channels have none', () =>
  withServer(
    async (server) => {
      server.publish('keyed', [{ a: 1 }], ['k']);
      server.publish('keyless', [{ a: 1 }]);
      const client = await TestClient.connect(server);
      assert.deepEqual(await client.subscribeSynced('keyed'), []);
      assert.deepEqual(await client.subscribeSynced('keyless'), []);
      assert.equal(server.stats().snapshotBytes, 0);
      await client.close();
    },
    { snapshot: { keys: 0 } },
  ));

test('websocketChannel gives items the key option, else the record key, else none', () =>
  withServer(async (server, metrics) => {
    const environment = { push: () => server, metrics, topology: 't' } as unknown as SinkEnvironment;
    const record = (value: { cardId: string; p: number }, key: string): StreamRecord<{ cardId: string; p: number }> => ({ value, key, eventTime: 0, topic: 't', partition: 0, offset: '' });
    const byOption = websocketChannel<{ cardId: string; p: number }>('by-option', { key: (v) => v.cardId, select: (v) => ({ p: v.p }) }).create(environment);
    const byRecord = websocketChannel<{ cardId: string; p: number }>('by-record').create(environment);
    const client = await TestClient.connect(server);
    await client.subscribeSynced('by-option');
    await client.subscribeSynced('by-record');
    byOption.write([record({ cardId: 'c1', p: 0.5 }, 'ignored')], []);
    byRecord.write([record({ cardId: 'c2', p: 0.6 }, 'rk'), record({ cardId: 'c3', p: 0.7 }, '')], []);
    assert.equal(await client.nextRaw(), '{"type":"data","channel":"by-option","seq":1,"key":"c1","data":{"p":0.5}}');
    assert.equal(await client.nextRaw(), '{"type":"data","channel":"by-record","seq":1,"key":"rk","data":{"cardId":"c2","p":0.6}}');
    assert.equal(await client.nextRaw(), '{"type":"data","channel":"by-record","seq":2,"data":{"cardId":"c3","p":0.7}}');
    await client.close();
  }));
