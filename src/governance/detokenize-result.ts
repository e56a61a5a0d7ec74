import { isToken, openToken, parseToken } from './tokens.ts';

/** Where the subjects' keys are read from: Keyring.existingKeys (absent: erased). */
export interface SubjectKeys {
  existingKeys(subjects: readonly string[]): Promise<Map<string, Buffer>>;
}

export interface DetokenizeCounts {
  /** Tokens replaced by their clear values. */
  opened: number;
  /** Tokens of erased subjects: left as they are (unreadable for everyone). */
  erased: number;
  /** Token-shaped values that did not open under their subject's key (changed or foreign): left as they are. */
  unreadable: number;
}

interface Literal {
  start: number;
  end: number;
  token: string;
}

/**
 * A ClickHouse JSON or JSONEachRow answer with every string value that is a token (tokens.ts's
 * own parser decides) replaced by the JSON of its clear value; one key store read for all the
 * subjects. Everything else keeps its exact bytes (no re-serialization: wide numbers stay exact).
 * Object keys (column names, Map keys) are never replaced.
 */
export async function detokenizeResultText(text: string, keys: SubjectKeys): Promise<{ text: string; counts: DetokenizeCounts }> {
  const literals = tokenLiterals(text);
  const counts: DetokenizeCounts = { opened: 0, erased: 0, unreadable: 0 };
  if (literals.length === 0) return { text, counts };
  const parsed = literals.map((literal) => parseToken(literal.token));
  const found = await keys.existingKeys([...new Set(parsed.map((token) => token.subject))]);
  const parts: string[] = [];
  let at = 0;
  literals.forEach((literal, i) => {
    const token = parsed[i]!;
    const key = found.get(token.subject);
    if (key === undefined) {
      counts.erased++;
      return;
    }
    let clear: string;
    try {
      clear = JSON.stringify(openToken(token, key));
    } catch {
      counts.unreadable++;
      return;
    }
    parts.push(text.slice(at, literal.start), clear);
    at = literal.end;
    counts.opened++;
  });
  parts.push(text.slice(at));
  return { text: parts.join(''), counts };
}

/** The string literals of a JSON text that are values (not keys) and tokens, with their spans (quotes included). */
function tokenLiterals(text: string): Literal[] {
  const found: Literal[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 34) continue; // '"' opens a literal: find its end
    const start = i;
    i = closingQuote(text, start);
    // Tokens are plain ASCII (base64url, '.', '_'): a token's literal holds no escapes.
    if (i - start < 7 || text.charCodeAt(start + 1) !== 116 /* t */) continue;
    const body = text.slice(start + 1, i);
    if (isToken(body) && !isKey(text, i + 1)) found.push({ start, end: i + 1, token: body });
  }
  return found;
}

/** The index of the closing quote of the literal at `start`, honouring escapes. */
function closingQuote(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 92) i += 2;
    else if (c === 34) return i;
    else i++;
  }
  return i;
}

/** Whether the literal that ended before `after` is an object key (a ':' follows). */
function isKey(text: string, after: number): boolean {
  let i = after;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r')) i++;
  return text[i] === ':';
}
