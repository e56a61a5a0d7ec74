import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_ERRORS, parseClientMessage } from '../../../src/push/protocol.ts';
import { batchFrame, batchFrameBytes, batchFramePrefix, dataFrame, dataFramePrefix, errorFrame, gapFrame, heartbeatFrame, itemJson, subscribedFrame, syncedFrame } from '../../../src/push/frames.ts';

test('subscribe: defaults, filter, resume', () => {
  assert.deepEqual(parseClientMessage('{"type":"subscribe","channel":"fraud"}'), {
    ok: true,
    request: { type: 'subscribe', channel: 'fraud', filter: undefined, snapshot: true, resumeFrom: undefined, epoch: undefined, batch: false },
  });
  const batched = parseClientMessage('{"type":"subscribe","channel":"fraud","batch":true}');
  assert.ok(batched.ok && batched.request.type === 'subscribe' && batched.request.batch === true);
  const parsed = parseClientMessage('{"type":"subscribe","channel":"fraud","filter":{"keys":["a"]},"snapshot":false,"resumeFrom":0,"epoch":"e1"}');
  assert.ok(parsed.ok && parsed.request.type === 'subscribe');
  assert.deepEqual([...parsed.request.filter!.keys!], ['a']);
  assert.deepEqual([parsed.request.snapshot, parsed.request.resumeFrom, parsed.request.epoch], [false, 0, 'e1']);
  assert.deepEqual(parseClientMessage('{"type":"unsubscribe","channel":"fraud","filter":{"bad":1}}'), { ok: true, request: { type: 'unsubscribe', channel: 'fraud' } });
});

test('errors carry a code, the documented text, and the channel once it is known', () => {
  assert.deepEqual(parseClientMessage('{'), { ok: false, code: 'malformed_json', error: PROTOCOL_ERRORS.malformed_json });
  assert.deepEqual(parseClientMessage('1'), { ok: false, code: 'not_an_object', error: PROTOCOL_ERRORS.not_an_object });
  assert.deepEqual(parseClientMessage('{"type":"ping"}'), { ok: false, code: 'unknown_type', error: PROTOCOL_ERRORS.unknown_type });
  assert.deepEqual(parseClientMessage('{"type":"subscribe","channel":"a+b"}'), { ok: false, code: 'invalid_channel', error: PROTOCOL_ERRORS.invalid_channel });
  assert.deepEqual(parseClientMessage('{"type":"subscribe","channel":"c","resumeFrom":9007199254740992}'), { ok: false, code: 'invalid_resume', error: PROTOCOL_ERRORS.invalid_resume, channel: 'c' });
  assert.deepEqual(parseClientMessage(`{"type":"subscribe","channel":"c","resumeFrom":1,"epoch":"${'e'.repeat(65)}"}`), { ok: false, code: 'invalid_resume', error: PROTOCOL_ERRORS.invalid_resume, channel: 'c' });
  assert.deepEqual(parseClientMessage('{"type":"subscribe","channel":"c","snapshot":"yes"}'), { ok: false, code: 'invalid_filter', error: 'invalid filter: snapshot must be true or false', channel: 'c' });
  assert.deepEqual(parseClientMessage('{"type":"subscribe","channel":"c","filter":{"keys":[]}}'), { ok: false, code: 'invalid_filter', error: 'invalid filter: filter.keys must be an array of 1 to 1000 strings', channel: 'c' });
});

test('server frames are exact JSON', () => {
  const prefix = dataFramePrefix('fraud');
  assert.equal(dataFrame(prefix, 12, undefined, itemJson({ a: 1 })), '{"type":"data","channel":"fraud","seq":12,"data":{"a":1}}');
  const entries = [{ frame: dataFrame(prefix, 1, 'k', '1') }, { frame: dataFrame(prefix, 2, undefined, '"é"') }, { frame: dataFrame(prefix, 3, undefined, 'null') }];
  const batch = batchFrame(batchFramePrefix('fraud'), entries, 0, 2);
  assert.equal(batch, '{"type":"batch","channel":"fraud","items":[{"type":"data","channel":"fraud","seq":1,"key":"k","data":1},{"type":"data","channel":"fraud","seq":2,"data":"é"}]}');
  const itemBytes = Buffer.byteLength(entries[0]!.frame) + Buffer.byteLength(entries[1]!.frame);
  assert.equal(batchFrameBytes(Buffer.byteLength(batchFramePrefix('fraud')), 2, itemBytes), Buffer.byteLength(batch));
  assert.equal(dataFrame(prefix, 13, 'k"1', itemJson(undefined)), '{"type":"data","channel":"fraud","seq":13,"key":"k\\"1","data":null}');
  assert.equal(itemJson(() => 1), 'null');
  assert.throws(() => itemJson({ n: 1n }), TypeError);
  assert.equal(subscribedFrame('fraud', 3, 'e', 10000), '{"type":"subscribed","channel":"fraud","seq":3,"epoch":"e","heartbeatMs":10000,"protocol":2}');
  assert.equal(gapFrame('fraud', 1, 5, 9, 'evicted'), '{"type":"gap","channel":"fraud","resumeFrom":1,"oldest":5,"seq":9,"reason":"evicted"}');
  assert.equal(syncedFrame('fraud', 9), '{"type":"synced","channel":"fraud","seq":9}');
  assert.equal(heartbeatFrame('fraud', 9, 1700000000000), '{"type":"heartbeat","channel":"fraud","seq":9,"time":1700000000000}');
  assert.equal(errorFrame({ code: 'forbidden', error: 'no', channel: 'x' }), '{"type":"error","code":"forbidden","error":"no","channel":"x"}');
  assert.equal(errorFrame({ code: 'malformed_json', error: 'malformed JSON' }), '{"type":"error","code":"malformed_json","error":"malformed JSON"}');
});
