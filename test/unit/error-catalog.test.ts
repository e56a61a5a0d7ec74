import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'dashboard' ? [] : sources(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

const texts = sources(path.join(root, 'src')).map((file) => ({ file: path.relative(root, file), text: readFileSync(file, 'utf8') }));

/** Every error code the library can produce, read from its sources. */
function codesInSources(): Map<string, string> {
  const found = new Map<string, string>();
  const add = (code: string, file: string) => found.set(code, found.get(code) ?? file);
  for (const { file, text } of texts) {
    for (const match of text.matchAll(/\bcode(?::| \?\?) '([A-Z][A-Z0-9_]+)'/g)) add(match[1]!, file);
    for (const match of text.matchAll(/new RecordError\([^;]*?, '([A-Z][A-Z0-9_]+)'(?:, [^)]*)?\)/g)) add(match[1]!, file);
    // Union types of codes: DecodeErrorCode, and SqlErrorCode whose members are prefixed SQL_.
    for (const [, name, body] of text.matchAll(/export type (DecodeErrorCode|SqlErrorCode) =([^;]+);/g)) {
      for (const member of body!.matchAll(/'([A-Z][A-Z0-9_]+)'/g)) add(name === 'SqlErrorCode' ? `SQL_${member[1]}` : member[1]!, file);
    }
  }
  return found;
}

test('docs/errors.md lists every error code the library throws', () => {
  const catalog = readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
  const codes = codesInSources();
  assert.ok(codes.size > 40, `read ${codes.size} codes from src/`);
  const missing = [...codes].filter(([code]) => !catalog.includes(`\`${code}\``)).map(([code, file]) => `${code} (${file})`);
  assert.deepEqual(missing, [], 'add these codes to docs/errors.md');
});

test('library code throws no bare Error: every error has a class and a code', () => {
  const bare = texts.filter(({ file }) => !file.startsWith('src/client/')).flatMap(({ file, text }) => [...text.matchAll(/\bnew Error\(/g)].map(() => file));
  assert.deepEqual(bare, []);
});
