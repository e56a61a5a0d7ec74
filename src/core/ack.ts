import { UsageError } from './errors.ts';
/**
 * Offset acknowledgement by reference counting, one token per source batch (never per record).
 *
 * The source creates a token holding one reference for itself. Anything that keeps data derived
 * from the batch beyond the synchronous pass through the pipeline (an open window, a sink buffer,
 * a scoring queue) calls `retain()` and later `release()`. The source releases its own reference
 * once the batch has passed through the pipeline. When the count reaches zero every sink has
 * acknowledged everything the batch contributed, and `onDone` lets the offset tracker commit it.
 */
export class AckToken {
  private references = 1;
  private readonly onDone: (token: AckToken) => void;
  readonly partitionKey: string;
  readonly lastOffset: bigint;
  readonly recordCount: number;

  constructor(partitionKey: string, lastOffset: bigint, recordCount: number, onDone: (token: AckToken) => void) {
    this.partitionKey = partitionKey;
    this.lastOffset = lastOffset;
    this.recordCount = recordCount;
    this.onDone = onDone;
  }

  get done(): boolean {
    return this.references === 0;
  }

  retain(): void {
    if (this.references === 0) throw new UsageError(`ack token ${this.partitionKey}@${this.lastOffset} retained after completion`);
    this.references++;
  }

  release(): void {
    if (this.references === 0) throw new UsageError(`ack token ${this.partitionKey}@${this.lastOffset} released too often`);
    if (--this.references === 0) this.onDone(this);
  }
}

export function retainAll(tokens: readonly AckToken[]): void {
  for (let i = 0; i < tokens.length; i++) tokens[i]!.retain();
}

export function releaseAll(tokens: readonly AckToken[]): void {
  for (let i = 0; i < tokens.length; i++) tokens[i]!.release();
}

/** Both token lists without duplicates (reuses an input when the other adds nothing). */
export function unionOfAcks(a: AckToken[], b: AckToken[]): AckToken[] {
  if (a === b || b.length === 0) return a;
  if (a.length === 0) return b;
  const union = a.slice();
  // A set past a few tokens: a window close can carry thousands, and includes() made it quadratic.
  if (a.length * b.length <= 64) {
    for (const token of b) if (!union.includes(token)) union.push(token);
    return union;
  }
  const seen = new Set(a);
  for (const token of b) if (!seen.has(token)) union.push(token);
  return union;
}

/**
 * Retains `token` in `held` unless `held` already has an earlier token of its partition (then
 * `token` is not retained; a later one replaces it). Offsets commit per partition only up to the
 * first batch not yet acknowledged (offset-tracker.ts), so holding a partition's earliest token
 * holds back all its later offsets as well: state fed by a minute of small fetches keeps one
 * token per partition instead of thousands.
 */
export function holdEarliest(held: AckToken[], token: AckToken): void {
  for (let i = 0; i < held.length; i++) {
    const current = held[i]!;
    if (current.partitionKey !== token.partitionKey) continue;
    if (token.lastOffset < current.lastOffset) {
      token.retain();
      held[i] = token;
      current.release();
    }
    return;
  }
  token.retain();
  held.push(token);
}

/** A token that needs no acknowledgement (generator, replay and tests). */
export function untrackedToken(recordCount = 0): AckToken {
  return new AckToken('untracked', -1n, recordCount, () => {});
}
