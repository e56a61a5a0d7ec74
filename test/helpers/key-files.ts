import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The stored value of key `id` as FileKeyStore keeps it in `directory`, parsed here from the file
 * itself (not with src/): a batch file (`tributary-keys 1` then one `["<id>","<value>"]` line per
 * key) or a file of one key holding just its value.
 */
export function storedKeyText(directory: string, id: string): string {
  const text = readFileSync(path.join(directory, `${id}.key`), 'utf8');
  if (!text.startsWith('tributary-keys 1\n')) return text;
  for (const line of text.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const [lineId, value] = JSON.parse(line) as [string, string];
    if (lineId === id) return value;
  }
  throw new Error(`key ${id} is not in its file`);
}
