import { open, seal, tampered } from './crypto.ts';

/**
 * What dead letters keep of a record that may hold tagged fields: its raw bytes and error text
 * encrypted under the dead-letter key (AES-256-GCM), readable by an admin with the key store.
 * Bytes: the magic `TRB1`, the key version (one byte), then iv ‖ tag ‖ ciphertext. Text:
 * `enc1.<key version>.<base64url(iv ‖ tag ‖ ciphertext)>`.
 */
const MAGIC = Buffer.from('TRB1', 'latin1');
const TEXT = /^enc1\.(\d{1,3})\.([A-Za-z0-9_-]+)$/;

/** `purpose` is bound as associated data: bytes sealed for one use do not open as another's. */
export function sealBytes(bytes: Uint8Array, key: Buffer, version: number, purpose = 'TRB1'): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([version]), seal(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), `${purpose}.${version}`)]);
}

export function isSealedBytes(bytes: Uint8Array): boolean {
  return bytes.length > MAGIC.length + 1 && Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length).equals(MAGIC);
}

/** The key version a sealed byte string names. */
export function sealedBytesVersion(bytes: Uint8Array): number {
  if (!isSealedBytes(bytes)) throw tampered('not sealed dead-letter bytes');
  return bytes[MAGIC.length]!;
}

export function openBytes(bytes: Uint8Array, key: Buffer, purpose = 'TRB1'): Buffer {
  const version = sealedBytesVersion(bytes);
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + MAGIC.length + 1, bytes.byteLength - MAGIC.length - 1);
  return open(key, body, `${purpose}.${version}`);
}

export function sealText(text: string, key: Buffer, version: number): string {
  return `enc1.${version}.${seal(key, Buffer.from(text, 'utf8'), `enc1.${version}`).toString('base64url')}`;
}

export function sealedTextVersion(text: string): number {
  const match = TEXT.exec(text);
  if (match === null) throw tampered('not sealed dead-letter text');
  return Number(match[1]);
}

export function openText(text: string, key: Buffer): string {
  const version = sealedTextVersion(text);
  return open(key, Buffer.from(TEXT.exec(text)![2]!, 'base64url'), `enc1.${version}`).toString('utf8');
}
