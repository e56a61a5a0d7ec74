import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/observability/logger.ts';

/** A logger whose JSON lines are collected, parsed. */
function capture(level = 'debug') {
  const lines: string[] = [];
  const logger = createLogger('test', level, { write: (line: string) => void lines.push(line) });
  return { logger, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

test('password, secret, token and authorization fields are redacted at any of the first three levels, key material too; record keys stay', () => {
  const { logger, lines, parsed } = capture();
  logger.info({
    password: 'pw-top',
    sasl: { mechanism: 'scram-sha-512', username: 'app', password: 'pw-sasl' },
    connection: { auth: { token: 'tok-deep', secret: 'sec-deep' } },
    headers: { authorization: 'Bearer abc.def', cookie: 'session=xyz' },
    ssl: { key: '-----BEGIN PRIVATE KEY-----MIIEv', passphrase: 'pass-phrase' },
    key: 'card-00042',
  }, 'connecting');
  const text = lines.join('');
  for (const secret of ['pw-top', 'pw-sasl', 'tok-deep', 'sec-deep', 'Bearer abc.def', 'session=xyz', 'MIIEv', 'pass-phrase']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  const [line] = parsed();
  assert.equal(line!.password, '[redacted]');
  assert.equal(line!.sasl, '[redacted]');
  assert.deepEqual(line!.connection, { auth: { token: '[redacted]', secret: '[redacted]' } });
  assert.deepEqual(line!.headers, { authorization: '[redacted]', cookie: '[redacted]' });
  assert.equal(line!.key, 'card-00042');
});

test('URL passwords are masked in messages, string fields, errors and err strings; the user name stays', () => {
  const { logger, parsed } = capture();
  logger.warn({ url: 'rediss://app:p%40ss@cache:6380/0' }, 'connecting to http://writer:ch-pw@ch:8123/db');
  logger.error({ err: new Error('cannot reach redis://app:err-pw@cache:6379') }, 'failed');
  logger.error({ err: 'kafka://u:str-pw@b:9092 refused' }, 'failed as text');
  logger.info('interpolated %s', 'https://a:interp-pw@h/x');
  const lines = parsed();
  assert.equal(lines[0]!.url, 'rediss://app:***@cache:6380/0');
  assert.equal(lines[0]!.msg, 'connecting to http://writer:***@ch:8123/db');
  const err = lines[1]!.err as { message: string; stack: string };
  assert.equal(err.message, 'cannot reach redis://app:***@cache:6379');
  assert.ok(!err.stack.includes('err-pw'));
  assert.equal(lines[2]!.err, 'kafka://u:***@b:9092 refused');
  assert.equal(lines[3]!.msg, 'interpolated https://a:***@h/x');
});

test('child loggers redact too', () => {
  const { logger, lines } = capture();
  logger.child({ table: 'merchants' }).info({ password: 'child-pw', target: 'redis://x:child-url-pw@h' }, 'child line');
  assert.ok(!lines.join('').includes('child-pw'));
  assert.ok(!lines.join('').includes('child-url-pw'));
});
