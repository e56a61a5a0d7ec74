import fc from 'fast-check';

/**
 * Hostile frames for the push server, each with the answers the protocol allows for it
 * (docs/websocket-protocol.md): an error frame with a listed code, an ack, or a documented close.
 * Expectations are written from the documentation, not computed by the server's own code.
 */

export interface Frame {
  data: string | Buffer;
  binary: boolean;
}

export interface FrameCase {
  kind: string;
  frame: Frame;
  /** The outcomes allowed: exact ones, or any documented answer that keeps the connection open. */
  expect: readonly string[] | 'documented';
}

/** Error codes of docs/websocket-protocol.md ("error"). */
export const DOCUMENTED_ERRORS = ['binary_frame', 'malformed_json', 'not_an_object', 'unknown_type', 'invalid_channel', 'invalid_filter', 'invalid_resume', 'too_many_channels', 'forbidden', 'rate_limited'];
/** Answers to one frame that leave the connection open (rate_limited only comes in floods). */
export const DOCUMENTED_REPLIES = new Set(['subscribed', 'unsubscribed', ...DOCUMENTED_ERRORS.filter((code) => code !== 'rate_limited').map((code) => `error:${code}`)]);

/** The server's default frame limit (maxPayloadLength): a longer frame is dropped with 1006. */
export const MAX_PAYLOAD = 16 * 1024;
/** What the fuzz token grants: "fuzz" and every channel starting with "open". */
export const GRANTED = ['fuzz', 'open*'];
const CHANNEL = /^[A-Za-z0-9_.:-]{1,64}$/; // as documented: 1-64 characters of A-Z a-z 0-9 _ . : -

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function granted(channel: string): boolean {
  return channel === 'fuzz' || channel.startsWith('open');
}

/** A case whose frame is the given text or bytes; any frame over the limit must be dropped with 1006. */
function frameCase(kind: string, data: string | Buffer, expect: FrameCase['expect'], binary = false): FrameCase {
  const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  return { kind, frame: { data, binary }, expect: length > MAX_PAYLOAD ? ['close:1006'] : expect };
}

const json = (value: unknown) => JSON.stringify(value);

const regexLike = fc.constantFrom('.*', '^fuzz$', '(a+)+$', '[', '\\', 'fuzz|open.x', '(?=x)', '*', 'open*', '#', '+', 'fuzz/#', '%00', '\u0000', '..', ':', '-', '$', '__proto__', 'constructor', 'a'.repeat(64), 'a'.repeat(65), 'open'.padEnd(64, '.'), 'ｆｕｚｚ', 'fuzz\n', ' fuzz');
const channelName = fc.oneof(regexLike, fc.string({ maxLength: 70 }), fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/), fc.constantFrom('fuzz', 'open.a', 'open', 'closed', 'fuzz2', 'FUZZ'));
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, -0, 1.5, 2 ** 53, -(2 ** 53), 1e308, '', 'x'.repeat(300), [], {}, [[]], { $gt: '' }, { __proto__: null, length: 1 }),
);
const bigNumber = fc.constantFrom(-1, 0, 1, 0.5, -0, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE);

/** Paths into a valid subscribe message; one of them gets an odd value. */
const FIELD_PATHS = ['type', 'channel', 'filter', 'filter.keys', 'filter.keys.0', 'filter.min', 'filter.min.probability', 'filter.equals', 'filter.equals.source', 'filter.extra', 'snapshot', 'resumeFrom', 'epoch', 'extra'];

function validSubscribe(): Record<string, unknown> {
  return { type: 'subscribe', channel: 'fuzz', filter: { keys: ['card-1', 'card-2'], min: { probability: 0.5 }, equals: { source: 'model' } }, snapshot: false, resumeFrom: 1, epoch: '0123456789abcdef' };
}

function setPath(message: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  let node: Record<string, unknown> = message;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts.at(-1)!] = value;
  return message;
}

const wrongFieldType = fc.tuple(fc.constantFrom(...FIELD_PATHS), oddValue, fc.boolean()).map(([path, value, unsubscribe]) => {
  const message = setPath(validSubscribe(), path, value);
  if (unsubscribe && path !== 'type') message.type = 'unsubscribe';
  return frameCase(`${unsubscribe ? 'unsubscribe' : 'subscribe'}: odd ${path}`, json(message), 'documented');
});

const channelCase = fc.tuple(channelName, fc.boolean()).map(([channel, subscribe]) => {
  const valid = CHANNEL.test(channel);
  const expect = !valid ? ['error:invalid_channel'] : !subscribe ? ['unsubscribed'] : granted(channel) ? ['subscribed', 'error:too_many_channels'] : ['error:forbidden'];
  return frameCase(`${subscribe ? 'subscribe' : 'unsubscribe'}: channel name`, json({ type: subscribe ? 'subscribe' : 'unsubscribe', channel, snapshot: false }), expect);
});

const filterCase = fc
  .record({
    keyCount: fc.constantFrom(0, 1, 2, 999, 1000, 1001, 1500),
    key: fc.oneof(regexLike, fc.string({ maxLength: 8 }), fc.constantFrom('k'.repeat(256), 'k'.repeat(257))),
    fieldCount: fc.constantFrom(0, 1, 16, 17, 40),
    fieldName: fc.oneof(regexLike, fc.string({ maxLength: 70 })),
    value: fc.oneof(bigNumber, oddValue),
  })
  .map(({ keyCount, key, fieldCount, fieldName, value }) => {
    const keys = Array.from({ length: keyCount }, (_, i) => (i === 0 ? key : `${key}${i}`));
    const min = Object.fromEntries(Array.from({ length: fieldCount }, (_, i) => [i === 0 ? fieldName : `f${i}`, value]));
    return frameCase('subscribe: odd filter', json({ type: 'subscribe', channel: 'fuzz', filter: { keys, min, equals: { [fieldName]: value } }, snapshot: false }), 'documented');
  });

const resumeCase = fc.tuple(fc.oneof(bigNumber, oddValue), fc.oneof(fc.string({ maxLength: 80 }), oddValue), fc.boolean()).map(([resumeFrom, epoch, snapshot]) =>
  frameCase('subscribe: absurd resume', json({ type: 'subscribe', channel: 'fuzz', resumeFrom, epoch, snapshot }), 'documented'),
);

const hugeJson = fc.oneof(
  fc.integer({ min: 100, max: 9000 }).map((depth) => frameCase('huge: nested arrays', '['.repeat(depth) + ']'.repeat(depth), ['error:not_an_object'])),
  fc.integer({ min: 100, max: 5000 }).map((depth) => frameCase('huge: nested filter', `{"type":"subscribe","channel":"fuzz","filter":${'{"keys":'.repeat(depth)}1${'}'.repeat(depth)}}`, ['error:invalid_filter'])),
  fc.integer({ min: 1, max: 17_000 }).map((length) => frameCase('huge: long channel', json({ type: 'subscribe', channel: 'c'.repeat(length) }), length <= 64 ? ['subscribed', 'error:forbidden', 'error:too_many_channels'] : ['error:invalid_channel'])),
  fc.integer({ min: 1, max: 4000 }).map((count) => frameCase('huge: number array', json(Array.from({ length: count }, (_, i) => i * 1.5)), ['error:not_an_object'])),
  fc.integer({ min: 1, max: 2000 }).map((count) => frameCase('huge: many fields', json(Object.fromEntries([['type', 'subscribe'], ['channel', 'fuzz'], ['snapshot', false], ...Array.from({ length: count }, (_, i) => [`x${i}`, i])])), ['subscribed', 'error:too_many_channels'])),
);

const oversized = fc.tuple(fc.integer({ min: MAX_PAYLOAD + 1, max: 64 * 1024 }), fc.boolean()).map(([length, binary]) =>
  frameCase(binary ? 'oversized: binary' : 'oversized: text', binary ? Buffer.alloc(length, 0x5b) : `{"type":"subscribe","channel":"${'x'.repeat(length)}"}`, ['close:1006'], binary),
);

const INVALID_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];
const invalidUtf8 = fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.nat(3)).map(([bad, where]) => {
  const parts = ['{"type":"subscribe","channel":"', 'fuzz', '"}'];
  const bytes = Buffer.concat([...parts.slice(0, where).map((p) => Buffer.from(p)), Buffer.from(bad), ...parts.slice(where).map((p) => Buffer.from(p))]);
  return frameCase('invalid UTF-8 text', bytes, ['close:1006']);
});

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((bytes) => frameCase('random bytes as text', Buffer.from(bytes), isValidUtf8(bytes) ? 'documented' : ['close:1006']));
const randomText = fc.string({ unit: 'binary', maxLength: 300 }).map((text) => frameCase('random text', text, 'documented'));
const binary = fc.uint8Array({ maxLength: 4000 }).map((bytes) => frameCase('binary frame', Buffer.from(bytes), ['error:binary_frame'], true));
const anyJson = fc.jsonValue({ maxDepth: 4 }).map((value) => {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  return frameCase('JSON value', json(value), isObject ? 'documented' : ['error:not_an_object']);
});
const unknownType = fc
  .tuple(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('Subscribe', 'SUBSCRIBE', 'subscribe ', 'unsubscribe\u0000', 'publish', 'auth', 'ping', 'data', 'error'), oddValue), channelName)
  .filter(([type]) => type !== 'subscribe' && type !== 'unsubscribe')
  .map(([type, channel]) => frameCase('unknown type', json({ type, channel }), ['error:unknown_type']));

/** One hostile frame; the mix leans on near-valid messages, which reach deepest into the server. */
export const frameCaseArbitrary: fc.Arbitrary<FrameCase> = fc.oneof(
  { weight: 4, arbitrary: randomText },
  { weight: 4, arbitrary: randomBytes },
  { weight: 3, arbitrary: binary },
  { weight: 4, arbitrary: anyJson },
  { weight: 4, arbitrary: unknownType },
  { weight: 12, arbitrary: wrongFieldType },
  { weight: 8, arbitrary: channelCase },
  { weight: 6, arbitrary: filterCase },
  { weight: 6, arbitrary: resumeCase },
  { weight: 3, arbitrary: hugeJson },
  { weight: 1, arbitrary: oversized },
  { weight: 1, arbitrary: invalidUtf8 },
);
