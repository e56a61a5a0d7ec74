import { test } from 'node:test';
import assert from 'node:assert/strict';
import { banner } from '../../../src/cli/run-command.ts';
import { defineTopology, kafkaTopic, websocketChannel, keyBy, clickhouseTable } from 'tributary';
import { createCardFraudTopology } from '../../../topologies/card-fraud.ts';
import type { AnyTopology } from '../../../src/topology/define-topology.ts';

const source = kafkaTopic<{ id: string; ts: number }>({ topic: 't', format: 'json', eventTime: (e) => e.ts });

test("the start banner names the topology's own channels (it always said fraud)", () => {
  const twoChannels = defineTopology({
    name: 'orders',
    source,
    pipeline: (events) => ({ totals: events.pipe(keyBy((e) => e.id)), alerts: events }),
    sinks: { totals: [websocketChannel('totals'), clickhouseTable('t', { schema: 'x.avsc', orderBy: ['id'] })], alerts: [websocketChannel('alerts')] },
  }) as unknown as AnyTopology;
  const text = banner(twoChannels, '127.0.0.1:8080');
  assert.match(text, /Tributary orders is running\./);
  assert.match(text, /WebSocket: {2}ws:\/\/127\.0\.0\.1:8080\/ws {2}\(send \{"type":"subscribe","channel":"totals"\} or \{"type":"subscribe","channel":"alerts"\}\)/);
  assert.doesNotMatch(text, /fraud/);

  const cardFraud = createCardFraudTopology({ topic: 'p', tablePrefix: 'x_' }) as unknown as AnyTopology;
  assert.match(banner(cardFraud, 'localhost:1'), /\(send \{"type":"subscribe","channel":"fraud"\}\)/);

  const none = defineTopology({ name: 'quiet', source, pipeline: (events) => ({ out: events }), sinks: { out: [] } }) as unknown as AnyTopology;
  assert.match(banner(none, 'localhost:1'), /ws:\/\/localhost:1\/ws {2}\(this topology publishes no channel\)/);
});
