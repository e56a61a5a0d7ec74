import { SqlQueryError } from './sql-errors.ts';

/** One node of ClickHouse's parse tree, as `EXPLAIN AST` prints it. */
export interface AstNode {
  /** The node's class without the AST prefix: SelectQuery, Function, Identifier, Literal, ... */
  type: string;
  /** Function, Identifier and TableIdentifier: the name (dotted for compound names). */
  name?: string;
  /** Literal: the value as printed (strings quoted and escaped). */
  value?: string;
  alias?: string;
  children: AstNode[];
}

/** A plain name: a word, or words joined by dots. Anything else (quotes, spaces, newlines) is refused. */
const NAME = '[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*';
const WORD = '[A-Za-z_][A-Za-z0-9_]*';
const NAMED = new RegExp(`^ (${NAME})(?: \\(alias (${WORD})\\))?(?: \\(children ([1-9][0-9]*)\\))?$`);
const PLAIN = new RegExp(`^(?: \\(alias (${WORD})\\))?(?: \\(children ([1-9][0-9]*)\\))?$`);
const SAMPLE_RATIO = /^ [0-9]+(?:\.[0-9]+)?(?: \/ [0-9]+(?:\.[0-9]+)?)?$/;
const LINE = /^( *)([A-Za-z][A-Za-z0-9]*)(.*)$/;
/** Types whose line carries a name: `Function count (alias n) (children 1)`. */
const NAMED_TYPES = new Set(['Function', 'Identifier', 'TableIdentifier']);
/** Types that never have children (a declared count on them is a forged or unknown line). */
const LEAF_TYPES = new Set(['Identifier', 'TableIdentifier', 'Literal', 'SampleRatio']);

export const MAX_AST_DEPTH = 256;
export const MAX_AST_NODES = 100_000;

/**
 * Reads the lines of `EXPLAIN AST` into a tree, strictly: one node per line, its depth the
 * indentation (one space per level), exactly one root, every line in the grammar below, and
 * every declared "(children N)" equal to the lines found under it. ClickHouse prints identifiers
 * raw, so a quoted name with a newline could forge lines; the caller refuses quoted names
 * before this, and this parser refuses any line that is not exactly one well-formed node.
 *
 * Throws SqlQueryError NOT_ALLOWED for anything it cannot read (the query is then refused, never
 * run), TOO_LARGE past MAX_AST_DEPTH or MAX_AST_NODES.
 */
export function parseAstDump(lines: readonly string[]): AstNode {
  const body = lines.length > 0 && lines[lines.length - 1] === '' ? lines.slice(0, -1) : lines;
  if (body.length === 0) throw unreadable('the parser returned nothing');
  if (body.length > MAX_AST_NODES) throw new SqlQueryError('TOO_LARGE', `the query has more than ${MAX_AST_NODES} parts: simplify it`);
  const stack: Array<{ node: AstNode; declared: number }> = [];
  let root: AstNode | undefined;
  for (const [index, line] of body.entries()) {
    const match = LINE.exec(line);
    if (match === null) throw unreadable(`line ${index + 1}`);
    const depth = match[1]!.length;
    if (depth > MAX_AST_DEPTH) throw new SqlQueryError('TOO_LARGE', `the query is nested more than ${MAX_AST_DEPTH} levels deep: simplify it`);
    const { node, declared } = parseNode(match[2]!, match[3]!, index);
    if (depth === 0) {
      if (root !== undefined) throw unreadable('more than one statement');
      root = node;
    } else {
      if (depth > stack.length) throw unreadable(`line ${index + 1} is indented below no node`);
      stack.length = depth;
      stack[depth - 1]!.node.children.push(node);
    }
    if (root === undefined) throw unreadable('the first line is indented');
    stack[depth] = { node, declared };
    stack.length = depth + 1;
    // Counts are checked when a node's subtree is complete: on the next line at its depth or above.
    checkCompleted(stack, body[index + 1], index);
  }
  return root!;
}

/** After `lines[index]`, every node deeper than the next line's depth is complete: check its count. */
/** The first line's node type: what kind of statement it is (SelectWithUnionQuery, DescribeQuery, ShowTables, ...). */
export function statementType(lines: readonly string[]): string | undefined {
  return LINE.exec(lines[0] ?? '')?.[2];
}

function checkCompleted(stack: Array<{ node: AstNode; declared: number }>, next: string | undefined, index: number): void {
  const nextDepth = next === undefined ? 0 : (LINE.exec(next)?.[1]?.length ?? 0);
  for (let depth = stack.length - 1; depth >= nextDepth; depth--) {
    const { node, declared } = stack[depth]!;
    if (node.children.length !== declared) throw unreadable(`a ${node.type} near line ${index + 1} declares ${declared} children but has ${node.children.length}`);
  }
}

function parseNode(type: string, rest: string, index: number): { node: AstNode; declared: number } {
  if (NAMED_TYPES.has(type)) {
    const match = NAMED.exec(rest);
    if (match === null) throw unreadable(`line ${index + 1} (${type} with a name that is not a plain word)`);
    const declared = match[3] === undefined ? 0 : Number(match[3]);
    if (declared > 0 && LEAF_TYPES.has(type)) throw unreadable(`line ${index + 1} (${type} with children)`);
    return { node: withAlias({ type, name: match[1]!, children: [] }, match[2]), declared };
  }
  if (type === 'Literal') {
    const { value, alias } = literalParts(rest, index);
    return { node: withAlias({ type, value, children: [] }, alias), declared: 0 };
  }
  if (type === 'SampleRatio') {
    if (!SAMPLE_RATIO.test(rest)) throw unreadable(`line ${index + 1} (SampleRatio)`);
    return { node: { type, value: rest.trim(), children: [] }, declared: 0 };
  }
  const match = PLAIN.exec(rest);
  // Other shapes (ExistsTableQuery's table, InterpolateElement's column, ...) belong to nodes
  // the validator refuses anyway: name the node in the refusal.
  if (match === null) throw new SqlQueryError('NOT_ALLOWED', `${type} is not allowed in an analyst query`);
  return { node: withAlias({ type, children: [] }, match[1]), declared: match[2] === undefined ? 0 : Number(match[2]) };
}

/**
 * ` <value>[ (alias a)]`: the value runs to the first " (alias " outside quotes, so a string
 * literal containing that text stays part of the value. Strings come escaped (no raw newline).
 */
function literalParts(rest: string, index: number): { value: string; alias?: string } {
  if (!rest.startsWith(' ') || rest.length < 2) throw unreadable(`line ${index + 1} (Literal without a value)`);
  let quoted = false;
  let end = rest.length;
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === ' ' && rest.startsWith(' (alias ', i)) {
      end = i;
      break;
    }
  }
  if (quoted) throw unreadable(`line ${index + 1} (an unterminated string literal)`);
  const value = rest.slice(1, end);
  if (end === rest.length) return { value };
  const alias = new RegExp(`^ \\(alias (${WORD})\\)$`).exec(rest.slice(end));
  if (alias === null) throw unreadable(`line ${index + 1} (Literal with a malformed alias)`);
  return { value, alias: alias[1]! };
}

function withAlias(node: AstNode, alias: string | undefined): AstNode {
  if (alias !== undefined) node.alias = alias;
  return node;
}

function unreadable(what: string): SqlQueryError {
  return new SqlQueryError('NOT_ALLOWED', `the query was refused: ClickHouse's parse tree could not be read strictly (${what})`);
}
