import { createHash, timingSafeEqual } from 'node:crypto';
import { SqlQueryError } from './sql-errors.ts';

/** What the access rule looks at in a request. */
export interface SqlRequestFacts {
  /** The TCP peer's address (uWS's text form: IPv6 written out in full). */
  remoteAddress: string;
  /** Headers, '' when absent. */
  authorization: string;
  host: string;
  origin: string;
}

/**
 * The SQL endpoint's access rule (README, "For analysts"):
 *
 * - With a token (TRIBUTARY_SQL_TOKEN), every request must send `Authorization: Bearer <token>`,
 *   from loopback too; anything else is 401.
 * - Without a token, only loopback clients are answered (403 for others), and only when the Host
 *   header names loopback too (localhost, 127.x.x.x, [::1]): a web page cannot reach it through
 *   DNS rebinding. Behind a reverse proxy on the same machine every client looks like loopback,
 *   so set a token there.
 * - Browsers' cross-origin requests (an Origin header that is not the Host) are refused either way.
 *
 * Throws SqlQueryError; returns nothing when the request may go on.
 */
export function checkSqlAccess(facts: SqlRequestFacts, token: string | undefined): void {
  if (facts.origin !== '' && !sameOrigin(facts.origin, facts.host)) {
    throw new SqlQueryError('FORBIDDEN', `cross-origin requests are not answered (Origin ${facts.origin})`);
  }
  if (token !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(facts.authorization);
    if (match === null) throw new SqlQueryError('UNAUTHORIZED', 'send the token as "Authorization: Bearer <TRIBUTARY_SQL_TOKEN>"');
    if (!sameSecret(match[1]!, token)) throw new SqlQueryError('UNAUTHORIZED', 'the token is not valid');
    return;
  }
  if (!isLoopbackAddress(facts.remoteAddress)) {
    throw new SqlQueryError('FORBIDDEN', 'without TRIBUTARY_SQL_TOKEN the SQL endpoint answers loopback clients only: set a token on the engine and send it as a bearer token');
  }
  if (!isLoopbackHost(facts.host)) {
    throw new SqlQueryError('FORBIDDEN', `without TRIBUTARY_SQL_TOKEN the SQL endpoint answers requests to localhost only (Host ${facts.host || 'missing'})`);
  }
}

/** Compares digests, so the time taken says nothing about how much of the token matched. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses, in short or uWS's full IPv6 form. */
export function isLoopbackAddress(address: string): boolean {
  const text = address.trim().toLowerCase();
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(text)) return true;
  const groups = ipv6Groups(text);
  if (groups === null) return false;
  const zerosBefore = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zerosBefore(7) && groups[7] === 1) return true; // ::1
  return zerosBefore(5) && groups[5] === 0xffff && groups[6]! >> 8 === 127; // ::ffff:127.x.x.x
}

/** The eight 16-bit groups of an IPv6 address (:: expanded, a dotted IPv4 tail read), or null. */
function ipv6Groups(text: string): number[] | null {
  if (!text.includes(':')) return null;
  let body = text;
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(body);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    body = body.slice(0, dotted.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : null;
}

/** Host header (with or without a port) naming this machine's loopback interface. */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/:\d+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[') && name.endsWith(']')) return isLoopbackAddress(name.slice(1, -1));
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

export function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}
