/**
 * Where each principal's spent privacy budget is kept, in whole millionths of ε (integers: no
 * float drift however many queries). `spend` is atomic: it checks and adds in one step, so
 * concurrent queries can never spend more than the limit together.
 */
export interface BudgetLedger {
  readonly description: string;
  /** Adds `cost` to the principal's spent total if it stays within `limit`; else changes nothing. */
  spend(principal: string, cost: number, limit: number): Promise<{ accepted: boolean; spent: number }>;
  /** The principal's spent total (0 when it never spent). */
  spent(principal: string): Promise<number>;
  close(): Promise<void>;
}

export const MICRO = 1_000_000;

/** ε as whole millionths, for settings and answers. */
export function toMicro(epsilon: number): number {
  return Math.round(epsilon * MICRO);
}

export function fromMicro(micro: number): number {
  return micro / MICRO;
}
