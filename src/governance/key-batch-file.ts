import type { FileHandle } from 'node:fs/promises';

/**
 * The file format of FileKeyStore's batches: a header line, then one line per key,
 * `["<id>","<stored value>"]` (JSON, so any value text fits on one line). Every key of the batch
 * has its own name (a hard link) for this one file. Lines never move: deleting a key overwrites
 * its line with spaces in place, so the other keys stay where their readers look for them.
 */
export const BATCH_HEADER = 'tributary-keys 1\n';

export function batchFile(entries: ReadonlyMap<string, string>): Buffer {
  let text = BATCH_HEADER;
  for (const [id, value] of entries) text += `${JSON.stringify([id, value])}\n`;
  return Buffer.from(text, 'utf8');
}

/** The stored value of `id` in a file read under its name: a batch's line, or (a file of one key) the whole text. */
export function valueIn(content: Buffer, id: string): string | undefined {
  if (content.subarray(0, BATCH_HEADER.length).toString('latin1') !== BATCH_HEADER) return content.toString('utf8');
  const line = lineOf(content, id);
  if (line === undefined) return undefined;
  const parsed: unknown = JSON.parse(content.subarray(line.start, line.end).toString('utf8'));
  return Array.isArray(parsed) && parsed[0] === id && typeof parsed[1] === 'string' ? parsed[1] : undefined;
}

/** Overwrites the line of `id` (if the file holds it) with spaces, in place. */
export async function blankLine(handle: FileHandle, content: Buffer, id: string): Promise<void> {
  const line = lineOf(content, id);
  if (line !== undefined) await handle.write(Buffer.alloc(line.end - line.start, 0x20), 0, line.end - line.start, line.start);
}

/** Byte range of `id`'s line, without its newline (ids are [A-Za-z0-9._-], so the prefix is exact). */
function lineOf(content: Buffer, id: string): { start: number; end: number } | undefined {
  const at = content.indexOf(`\n["${id}",`, BATCH_HEADER.length - 1, 'utf8');
  if (at < 0) return undefined;
  const start = at + 1;
  const end = content.indexOf(0x0a, start);
  return { start, end: end < 0 ? content.length : end };
}
