import { ConfigError } from '../../core/errors.ts';
import type { BudgetLedger } from './budget-ledger.ts';
import { toMicro } from './budget-ledger.ts';

/** How the DP mode of the SQL endpoint answers (README, "Data protection"). */
export interface DpSettings {
  /** The column naming the subject (the governed subject, e.g. the card): contributions are bounded per value of it. */
  subjectColumn: string;
  ledger: BudgetLedger;
  /** Each principal's total ε, in millionths (TRIBUTARY_DP_BUDGET). */
  budgetMicro: number;
  /** Probability that a group held by one subject is released anyway (TRIBUTARY_DP_DELTA). */
  delta: number;
  /** k when the query names none (TRIBUTARY_DP_ROWS_PER_SUBJECT) and its cap (TRIBUTARY_DP_MAX_ROWS_PER_SUBJECT). */
  defaultRowsPerSubject: number;
  maxRowsPerSubject: number;
  /** Largest ε one query may spend (TRIBUTARY_DP_MAX_EPSILON). */
  maxEpsilon: number;
  /**
   * Analysts get DP answers only (TRIBUTARY_DP_ONLY=1): their plain SQL is refused, else the budget
   * would bound nothing. Admins keep plain SQL. Optional: false when absent.
   */
  analystsDpOnly?: boolean;
}

export type DpEnvironment = Omit<DpSettings, 'ledger' | 'subjectColumn'> & {
  /** TRIBUTARY_DP_SUBJECT, else the governance subject. */
  subjectColumn: string | undefined;
  /** TRIBUTARY_DP_LEDGER: 'redis' (REDIS_URL) or a file path; undefined: the file beside the data. */
  ledger: string | undefined;
};

/** The DP settings from the environment; ConfigError naming the variable and the fix. */
export function loadDpEnvironment(env: NodeJS.ProcessEnv = process.env): DpEnvironment {
  const budget = positiveNumber(env, 'TRIBUTARY_DP_BUDGET', 3);
  const maxEpsilon = positiveNumber(env, 'TRIBUTARY_DP_MAX_EPSILON', 1);
  const delta = positiveNumber(env, 'TRIBUTARY_DP_DELTA', 1e-6);
  if (delta >= 1e-3) throw new ConfigError('TRIBUTARY_DP_DELTA', `${delta} is too large a chance of releasing one subject's group`, 'use 1e-6 or smaller');
  const defaultRows = positiveInteger(env, 'TRIBUTARY_DP_ROWS_PER_SUBJECT', 1);
  const maxRows = positiveInteger(env, 'TRIBUTARY_DP_MAX_ROWS_PER_SUBJECT', Math.max(10, defaultRows));
  if (defaultRows > maxRows) throw new ConfigError('TRIBUTARY_DP_ROWS_PER_SUBJECT', `${defaultRows} is above TRIBUTARY_DP_MAX_ROWS_PER_SUBJECT (${maxRows})`, 'lower it or raise the cap');
  const dpOnly = (env.TRIBUTARY_DP_ONLY ?? '').trim();
  if (!['', '0', '1'].includes(dpOnly)) throw new ConfigError('TRIBUTARY_DP_ONLY', `${JSON.stringify(dpOnly)} is neither 0 nor 1`, 'set TRIBUTARY_DP_ONLY=1 to refuse analysts plain SQL, or leave it unset');
  const subject = env.TRIBUTARY_DP_SUBJECT?.trim() || undefined;
  if (subject !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(subject)) throw new ConfigError('TRIBUTARY_DP_SUBJECT', `${JSON.stringify(subject)} is not a column name`, 'name the subject column, e.g. TRIBUTARY_DP_SUBJECT=cardId');
  return { subjectColumn: subject, ledger: env.TRIBUTARY_DP_LEDGER?.trim() || undefined, budgetMicro: toMicro(budget), delta, defaultRowsPerSubject: defaultRows, maxRowsPerSubject: maxRows, maxEpsilon, analystsDpOnly: dpOnly === '1' };
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(name, `${JSON.stringify(text)} is not a positive number`, `e.g. ${name}=${fallback}`);
  return value;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = positiveNumber(env, name, fallback);
  if (!Number.isSafeInteger(value)) throw new ConfigError(name, `${value} is not a whole number`, `e.g. ${name}=${fallback}`);
  return value;
}
