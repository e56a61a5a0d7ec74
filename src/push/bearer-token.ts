import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries `Bearer <expected>`. Compares digests, so the time taken
 * says nothing about how much of the token matched. 'missing' tells a client that sent nothing
 * from one that sent a wrong token (for the audit entry's reason).
 */
export function checkBearer(header: string, expected: string): 'ok' | 'missing' | 'wrong' {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return header.trim() === '' ? 'missing' : 'wrong';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(expected)) ? 'ok' : 'wrong';
}

/** uWS gives the remote address as an ArrayBuffer of text. */
export function remoteAddressOf(res: { getRemoteAddressAsText(): ArrayBuffer }): string {
  return Buffer.from(res.getRemoteAddressAsText()).toString();
}
