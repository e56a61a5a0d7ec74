import { createHmac } from 'node:crypto';
import fc from 'fast-check';

/**
 * Mutations of a valid WebSocket token (an HS256 JWT), none of which the server may accept: edits
 * without re-signing, other algorithms, policy-breaking claims signed with the real secret, other
 * keys, truncation, extra segments, base64 tricks and huge tokens. Signatures are made here with
 * node:crypto HMAC, independently of the `jose` code the server verifies with.
 */

export interface TokenCase {
  kind: string;
  token: string;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const unb64 = (segment: string) => Buffer.from(segment, 'base64url').toString('utf8');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A compact JWS: `header.payload.signature`, signed with HMAC (`hash`: sha256 for HS256) under `key`. */
export function forge(header: object | string, payload: object | string, key: string | Buffer, hash = 'sha256'): string {
  const h = typeof header === 'string' ? header : b64(JSON.stringify(header));
  const p = typeof payload === 'string' ? payload : b64(JSON.stringify(payload));
  return `${h}.${p}.${createHmac(hash, key).update(`${h}.${p}`).digest('base64url')}`;
}

/** `base` is a valid token for `secret`, issued at `now` (seconds). */
export function tokenMutations(base: string, secret: string, now: number): fc.Arbitrary<TokenCase> {
  const parts = base.split('.') as [string, string, string];
  const header = JSON.parse(unb64(parts[0])) as Record<string, unknown>;
  const claims = JSON.parse(unb64(parts[1])) as Record<string, unknown>;
  const escalated = { ...claims, channels: ['*'] };
  const segment = fc.constantFrom(0, 1, 2);
  const withPart = (index: number, text: string) => parts.map((part, i) => (i === index ? text : part)).join('.');
  const attackerKey = fc.uint8Array({ minLength: 0, maxLength: 64 }).map((bytes) => Buffer.from(bytes));

  const charFlip = fc.tuple(segment, fc.nat(), fc.oneof(fc.constantFrom(...ALPHABET), fc.constantFrom('+', '/', '=', ' ', '\t', '%', '.', '~', '!', '\u0000', 'é', '\u200b', 'Ａ', '\ud800'))).map(([i, at, c]) => {
    const part = parts[i]!;
    const pos = at % part.length;
    const replacement = c === part[pos] ? ALPHABET[(ALPHABET.indexOf(c) + 1) % ALPHABET.length]! : c;
    return { kind: `character changed in the ${SEGMENTS[i]}`, token: withPart(i, part.slice(0, pos) + replacement + part.slice(pos + 1)) };
  });
  const bitFlip = fc.tuple(segment, fc.nat(), fc.nat(7)).map(([i, at, bit]) => {
    const bytes = Buffer.from(parts[i]!, 'base64url');
    bytes[at % bytes.length]! ^= 1 << bit;
    return { kind: `bit flipped in the ${SEGMENTS[i]}`, token: withPart(i, bytes.toString('base64url')) };
  });
  const algNone = fc.tuple(fc.constantFrom('none', 'None', 'NONE', 'nOnE', ''), fc.boolean(), fc.constantFrom('', parts[2], 'AAAA')).map(([alg, escalate, signature]) => ({
    kind: 'alg none',
    token: `${b64(JSON.stringify({ ...header, alg }))}.${escalate ? b64(JSON.stringify(escalated)) : parts[1]}.${signature}`,
  }));
  const algSwitched = fc.constantFrom<[unknown, string]>(['HS384', 'sha384'], ['HS512', 'sha512'], ['RS256', 'sha256'], ['ES256', 'sha256'], ['PS256', 'sha256'], ['EdDSA', 'sha256'], ['hs256', 'sha256'], ['HS256 ', 'sha256'], [null, 'sha256'], [['HS256'], 'sha256'], [undefined, 'sha256']).map(([alg, hash]) => ({
    kind: 'alg switched, signed with the secret',
    token: forge({ ...header, alg }, claims, secret, hash),
  }));
  const headerTricks = fc.tuple(fc.constantFrom(0, 1, 2, 3, 4), attackerKey).map(([trick, key]) => {
    const tricks: Array<[string, object, string | Buffer]> = [
      ['embedded jwk, signed with its key', { ...header, jwk: { kty: 'oct', k: key.toString('base64url') } }, key],
      ['kid pointing at an empty file, signed with an empty key', { ...header, kid: '../../../../dev/null' }, ''],
      ['jku to a foreign key set, signed with another key', { ...header, jku: 'https://attacker.example/jwks.json' }, key],
      ['crit with an unknown parameter, signed with the secret', { ...header, crit: ['tributary-unknown'], 'tributary-unknown': true }, secret],
      ['unencoded payload (b64: false), signed with the secret', { ...header, b64: false, crit: ['b64'] }, secret],
    ];
    const [kind, h, signingKey] = tricks[trick]!;
    return { kind: `header: ${kind}`, token: forge(h, escalated, signingKey) };
  });
  const claimEdits = fc.constantFrom<[string, object | string]>(
    ['every channel', escalated],
    ['another channel', { ...claims, channels: ['fuzz', 'admin'] }],
    ['later expiry', { ...claims, exp: (claims.exp as number) + 10_000_000 }],
    ['no expiry', { ...claims, exp: undefined }],
    ['another subject', { ...claims, sub: 'admin' }],
    ['an audience', { ...claims, aud: 'tributary' }],
    ['an issuer', { ...claims, iss: 'attacker' }],
    ['same claims, other spacing', JSON.stringify(claims, null, 1)],
  ).map(([what, edited]) => ({ kind: `claims edited, not re-signed: ${what}`, token: `${parts[0]}.${b64(typeof edited === 'string' ? edited : JSON.stringify(edited))}.${parts[2]}` }));
  const badClaims = fc.constantFrom<[string, Record<string, unknown>]>(
    ['expired a second ago', { exp: now - 1 }],
    ['expired an hour ago', { exp: now - 3600 }],
    ['exp 0', { exp: 0 }],
    ['exp negative', { exp: -1 }],
    ['exp as a string', { exp: String(now + 3600) }],
    ['exp null', { exp: null }],
    ['exp an array', { exp: [now + 3600] }],
    ['no exp', { exp: undefined }],
    ['not valid for an hour', { nbf: now + 3600 }],
    ['nbf as a string', { nbf: '0' }],
    ['no channels', { channels: undefined }],
    ['channels a string', { channels: 'fuzz' }],
    ['channels with a space', { channels: ['fu zz'] }],
    ['channels empty name', { channels: [''] }],
    ['channels **', { channels: ['**'] }],
    ['channels *x', { channels: ['*x'] }],
    ['channels too long', { channels: ['c'.repeat(65)] }],
    ['channels not strings', { channels: [1, null] }],
    ['257 channels', { channels: Array.from({ length: 257 }, (_, i) => `c${i}`) }],
    ['another audience', { aud: 'billing-api' }],
    ['audiences list', { aud: ['billing-api', 'reports'] }],
  ).map(([what, changes]) => ({ kind: `claims signed with the secret: ${what}`, token: forge(header, { ...claims, ...changes }, secret) }));
  const wrongKey = attackerKey.map((key) => ({ kind: 'signed with another key', token: forge(header, escalated, key) }));
  const truncated = fc.nat().map((at) => ({ kind: 'truncated', token: base.slice(0, at % base.length) }));
  const segments = fc.constantFrom(
    `${parts[0]}.${parts[1]}`,
    `${parts[0]}.${parts[1]}.`,
    `.${parts[1]}.${parts[2]}`,
    `${parts[0]}..${parts[2]}`,
    `${base}.`,
    `${base}.${parts[2]}`,
    `${parts[0]}.${parts[1]}.${parts[2]}.${parts[1]}.${parts[2]}`,
    `${parts[0]}.${parts[2]}.${parts[1]}`,
    `.${base}`,
    '..',
  ).map((token) => ({ kind: 'segments missing, extra or swapped', token }));
  const base64Tricks = fc.tuple(segment, fc.nat(), fc.constantFrom('=', '==', '===', ' ', '\t', '\n', '\r\n', '%41', 'std', 'case', 'bits', 'outer space')).map(([i, at, trick]) => {
    const part = parts[i]!;
    const pos = at % (part.length + 1);
    const edited: Record<string, () => string> = {
      std: () => part.replace(/-/g, '+').replace(/_/g, '/').replace(/^([^+/]*)$/, '$1+'),
      case: () => (part === part.toUpperCase() ? part.toLowerCase() : part.toUpperCase()),
      bits: () => withTrailingBits(part, (at % 3) + 1),
      'outer space': () => part,
      '=': () => `${part}=`,
      '==': () => `${part}==`,
      '===': () => `${part}===`,
    };
    const text = (edited[trick] ?? (() => part.slice(0, pos) + trick + part.slice(pos)))();
    const token = trick === 'outer space' ? ` ${base}\n` : withPart(i, text);
    return { kind: `base64: ${trick === 'bits' ? 'other bits past the last byte' : JSON.stringify(trick)} in the ${SEGMENTS[i]}`, token };
  });
  const huge = fc.constantFrom(8192 - base.length, 8193 - base.length, 20_000, 100_000).map((extra) => ({ kind: 'huge', token: `${base}${'A'.repeat(Math.max(1, extra))}` }));
  const hugeSigned = fc.constantFrom(6000, 9000, 40_000).map((size) => ({ kind: 'huge, signed with the secret', token: forge({ ...header, pad: 'p'.repeat(size) }, claims, secret) }));
  const junk = fc.oneof(fc.string({ maxLength: 200 }), fc.stringMatching(/^[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,43}$/)).map((token) => ({ kind: 'random', token }));

  return fc
    .oneof(
      { weight: 10, arbitrary: charFlip },
      { weight: 10, arbitrary: bitFlip },
      { weight: 3, arbitrary: algNone },
      { weight: 3, arbitrary: algSwitched },
      { weight: 3, arbitrary: headerTricks },
      { weight: 4, arbitrary: claimEdits },
      { weight: 5, arbitrary: badClaims },
      { weight: 2, arbitrary: wrongKey },
      { weight: 3, arbitrary: truncated },
      { weight: 2, arbitrary: segments },
      { weight: 8, arbitrary: base64Tricks },
      { weight: 1, arbitrary: huge },
      { weight: 1, arbitrary: hugeSigned },
      { weight: 2, arbitrary: junk },
    )
    .filter((c) => c.token !== base);
}

const SEGMENTS = ['header', 'payload', 'signature'];

/** The same bytes written with other values in the unused low bits of the last character. */
function withTrailingBits(part: string, bits: number): string {
  const unusedBits = [0, 0, 4, 2][part.length % 4]!; // 2 or 3 characters in the last group carry 4 or 2 spare bits
  if (unusedBits === 0) return `${part}A`; // no spare bits: an extra character instead
  const last = ALPHABET.indexOf(part.at(-1)!);
  const changed = (last & ~((1 << unusedBits) - 1)) | (bits & ((1 << unusedBits) - 1) || 1);
  return part.slice(0, -1) + ALPHABET[changed];
}

/**
 * The header value as uWS hands it over: its HTTP parser trims leading and trailing bytes below 33
 * and, comparing signed chars, also bytes of 0x80 and above (any non-ASCII character at either end).
 */
export function asUwsTrims(value: string): string {
  return value.replace(/^[\x00-\x20\u0080-\uffff]+|[\x00-\x20\u0080-\uffff]+$/g, '');
}

/**
 * Mutations of the SQL endpoint's bearer header value, none of which may pass. Values that reach
 * the endpoint as the valid header once uWS trimmed them (the token with non-ASCII characters
 * appended) are not mutations of what the endpoint sees, so they are left out.
 */
export function bearerMutations(token: string): fc.Arbitrary<TokenCase> {
  const flip = fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...ALPHABET), fc.constantFrom(' ', '\t', '\u00a0', 'é', '\u200b', '\u0000', '"'))).map(([at, c]) => {
    const pos = at % token.length;
    return { kind: 'character changed', value: `Bearer ${token.slice(0, pos)}${c}${token.slice(pos + 1)}` };
  });
  const cut = fc.nat().map((at) => ({ kind: 'truncated', value: `Bearer ${token.slice(0, at % token.length)}` }));
  const extended = fc.string({ minLength: 1, maxLength: 20 }).map((tail) => ({ kind: 'extended', value: `Bearer ${token}${tail}` }));
  const casing = fc.constant({ kind: 'case changed', value: `Bearer ${token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase()}` });
  const schemes = fc.constantFrom(`Basic ${token}`, `Token ${token}`, `Bearer${token}`, token, `Bearer ${token} ${token}`, `Bearer ${token},${token}`, `Bearer "${token}"`, 'Bearer', 'Bearer ', '', `Bearer ${Buffer.from(token).toString('base64')}`).map((value) => ({ kind: 'scheme or framing', value }));
  const huge = fc.constantFrom(1000, 8000, 60_000).map((n) => ({ kind: 'huge', value: `Bearer ${token}${'x'.repeat(n)}` }));
  return fc
    .oneof({ weight: 8, arbitrary: flip }, { weight: 3, arbitrary: cut }, { weight: 3, arbitrary: extended }, { weight: 1, arbitrary: casing }, { weight: 2, arbitrary: schemes }, { weight: 1, arbitrary: huge })
    .map(({ kind, value }) => ({ kind, token: value.replace(/[\r\n]/g, '') }))
    .filter((c) => {
      const seen = asUwsTrims(c.token);
      return !/^bearer\s+/i.test(seen) || seen.replace(/^bearer\s+/i, '').trim() !== token;
    });
}
