import { SqlQueryError } from './sql-errors.ts';

/** ClickHouse's JSON output format (the parts `tributary query` reads). */
export interface JsonResult {
  meta: Array<{ name: string; type: string }>;
  data: Array<Record<string, unknown>>;
}

export function parseJsonResult(text: string): JsonResult {
  try {
    const parsed = JSON.parse(text) as Partial<JsonResult>;
    if (Array.isArray(parsed.meta) && Array.isArray(parsed.data)) return { meta: parsed.meta, data: parsed.data };
  } catch {
    // reported below
  }
  throw new SqlQueryError('INTERNAL', `the answer is not ClickHouse JSON: ${text.slice(0, 200)}`);
}

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/;
const WIDE_INTEGER = /^(Nullable\()?U?Int(64|128|256)\b/;

/**
 * An aligned text table: a header, a rule, one line per row (numbers right-aligned), then
 * "(N rows)". NULL is written NULL; newlines and tabs inside values are escaped so every row
 * stays on one line.
 */
export function renderTable(result: JsonResult): string {
  const names = result.meta.map((column) => column.name);
  const numeric = result.meta.map((column) => NUMERIC.test(column.type));
  const cells = result.data.map((row) => names.map((name) => cellText(row[name])));
  const widths = names.map((name, i) => Math.max(name.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => (numeric[i] ? value.padStart(widths[i]!) : value.padEnd(widths[i]!))).join('  ').trimEnd();
  const rows = result.data.length;
  return [line(names), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line), `(${rows} ${rows === 1 ? 'row' : 'rows'})`].join('\n') + '\n';
}

/**
 * The rows as a JSON array, one object per line. 64-bit integers, which ClickHouse may quote
 * (18.16 does), become numbers where they fit in a double exactly, so both servers print alike.
 */
export function renderJsonRows(result: JsonResult): string {
  const wide = result.meta.filter((column) => WIDE_INTEGER.test(column.type)).map((column) => column.name);
  const rows = result.data.map((row) => {
    const copy = { ...row };
    for (const name of wide) {
      const value = copy[name];
      if (typeof value === 'string' && /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value))) copy[name] = Number(value);
    }
    return JSON.stringify(copy);
  });
  return rows.length === 0 ? '[]\n' : `[\n${rows.join(',\n')}\n]\n`;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r');
}
