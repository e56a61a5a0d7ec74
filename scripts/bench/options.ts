import { InvalidArgumentError } from 'commander';

/** A commander option parser: a whole number of at least 1 (underscores allowed: 1_000_000). */
export function wholeNumber(text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}
