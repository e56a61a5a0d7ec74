import { open, seal, tampered } from './crypto.ts';

/**
 * Reversible tokens: `tok1.<subject pseudonym>.<base64url(iv ‖ tag ‖ ciphertext)>`, the value's
 * JSON encrypted with AES-256-GCM under the subject's own data key. The pseudonym says which key
 * (no clear id needed to detokenize) and is bound as associated data, so a token moved to another
 * subject, or changed in any byte, fails to open. Destroying the subject's key (erasure) leaves
 * every token of it unreadable wherever it was stored.
 */
const TOKEN = /^tok1\.(h\d{1,4}_[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{38,})$/;

export interface ParsedToken {
  subject: string;
  sealed: Buffer;
}

export function tokenize(value: unknown, subject: string, key: Buffer): string {
  // Numbers are most of what is tokenized: their decimal text is their JSON, without a replacer's cost.
  const json = typeof value === 'number' && Number.isFinite(value) ? String(value) : (JSON.stringify(value, bigintAsText) ?? 'null');
  return `tok1.${subject}.${seal(key, json, `tok1.${subject}`).toString('base64url')}`;
}

export function isToken(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('tok1.') && TOKEN.test(value);
}

/** The subject pseudonym and the sealed bytes; GOVERNANCE_TAMPERED when it is not a token. */
export function parseToken(token: string): ParsedToken {
  const match = TOKEN.exec(token);
  if (match === null) throw tampered('not a tok1 token');
  return { subject: match[1]!, sealed: Buffer.from(match[2]!, 'base64url') };
}

/** The value a token holds, given its subject's key. */
export function openToken(token: ParsedToken, key: Buffer): unknown {
  return JSON.parse(open(key, token.sealed, `tok1.${token.subject}`).toString('utf8'));
}

function bigintAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
