import { TributaryError } from '../core/errors.ts';
import { openBytes, openText, sealedBytesVersion, sealedTextVersion } from './envelope.ts';
import type { KeyStore } from './key-store.ts';
import { subjectId } from './keyring.ts';
import { keyFromStored } from './master-key.ts';
import { openToken, parseToken } from './tokens.ts';

export interface AdminKeyOptions {
  /** The master key the store's keys are wrapped with (TRIBUTARY_GOVERNANCE_MASTER_KEY), if any. */
  masterKey?: Buffer;
}

/**
 * The clear value of a token, for admins: reads the subject's key from the key store (the
 * caller's access to the store is the authorization) and decrypts. A token of an erased subject
 * fails with GOVERNANCE_ERASED; a changed or foreign token with GOVERNANCE_TAMPERED.
 *
 * @example const amount = await detokenize(row.sum1m, keyStore, { masterKey });
 */
export async function detokenize(token: string, keyStore: KeyStore, options: AdminKeyOptions = {}): Promise<unknown> {
  return (await detokenizeAll([token], keyStore, options))[0];
}

/** Many tokens: one key store read for all their subjects. Fails on the first that cannot be read. */
export async function detokenizeAll(tokens: readonly string[], keyStore: KeyStore, options: AdminKeyOptions = {}): Promise<unknown[]> {
  const parsed = tokens.map(parseToken);
  const ids = [...new Set(parsed.map((token) => subjectId(token.subject)))];
  const stored = await keyStore.get(ids);
  return parsed.map((token) => {
    const id = subjectId(token.subject);
    const form = stored.get(id);
    if (form === undefined) throw new TributaryError(`the key of subject ${token.subject} is gone: the subject was erased, so its tokens can no longer be read`, { code: 'GOVERNANCE_ERASED' });
    return openToken(token, keyFromStored(id, form, options.masterKey));
  });
}

/** A dead letter's sealed raw bytes and error text, in clear (admin only, like detokenize). */
export async function openDeadLetter(letter: { raw: Uint8Array | null; error: string }, keyStore: KeyStore, options: AdminKeyOptions = {}): Promise<{ raw: Buffer | null; error: string }> {
  const keyOf = async (version: number) => {
    const id = `dead-letters.${version}`;
    const form = (await keyStore.get([id])).get(id);
    if (form === undefined) throw new TributaryError(`dead-letter key version ${version} is not in ${keyStore.description}`, { code: 'GOVERNANCE_KEY_STORE' });
    return keyFromStored(id, form, options.masterKey);
  };
  const raw = letter.raw === null ? null : openBytes(letter.raw, await keyOf(sealedBytesVersion(letter.raw)));
  return { raw, error: openText(letter.error, await keyOf(sealedTextVersion(letter.error))) };
}
