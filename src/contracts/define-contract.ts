import { ConfigError } from '../core/errors.ts';
import type { ContractContext, ContractRule } from './contract-rule.ts';

/** A data contract as written: a name and its rules, keyed by rule name. */
export interface ContractDefinition<T> {
  /** The event type it describes, e.g. 'payment' (logs and quarantine rows). */
  name: string;
  /**
   * Rules by name, checked in this order; a record is reported under the first it breaks. The
   * name labels the metric and the dead letter's step (`contract:<name>`): lowercase letters,
   * digits, - and _.
   */
  rules: Record<string, ContractRule<T>>;
}

const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/**
 * A compiled contract: its rules in declaration order, as parallel arrays so the check of a
 * record is a loop over an array, not over an object.
 */
export class DataContract<T> {
  readonly name: string;
  readonly ruleNames: readonly string[];
  readonly rules: readonly ContractRule<T>[];

  constructor(definition: ContractDefinition<T>) {
    if (typeof definition.name !== 'string' || !NAME_PATTERN.test(definition.name)) {
      throw new ConfigError('contract.name', `"${String(definition.name)}" is not a valid contract name`, 'use lowercase letters, digits, - and _ (e.g. "payment")');
    }
    const entries = Object.entries(definition.rules ?? {});
    if (entries.length === 0) throw new ConfigError(`contract ${definition.name}`, 'has no rules', "declare rules: { 'amount-range': range('amount', { min: 0 }) }");
    for (const [name, rule] of entries) {
      if (!NAME_PATTERN.test(name)) throw new ConfigError(`contract ${definition.name}.rules`, `"${name}" is not a valid rule name`, 'use lowercase letters, digits, - and _ (it labels a metric and a dead-letter step)');
      if (typeof rule?.test !== 'function' || typeof rule.offending !== 'function') {
        throw new ConfigError(`contract ${definition.name}.rules.${name}`, 'is not a rule', 'build it with required, range, oneOf, matches, notInFuture or check');
      }
    }
    this.name = definition.name;
    this.ruleNames = entries.map(([name]) => name);
    this.rules = entries.map(([, rule]) => rule);
  }

  /** Index of the first rule `value` breaks, or -1 when it keeps them all. */
  firstBroken(value: T, context: ContractContext): number {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) if (!rules[i]!.test(value, context)) return i;
    return -1;
  }
}

/**
 * Declares the data contract of an event type: typed rules checked on every record as it enters
 * a topology (`defineTopology({ contract })`), before the pipeline, so windows never see a
 * record that breaks one. Such a record goes to the dead letters as step `contract:<rule>` (or
 * to the topology's `quarantine` table) with the rule and the offending value, and is counted
 * in `tributary_contract_violations_total{rule}`.
 *
 * @example defineContract<Payment>({ name: 'payment', rules: {
 *   'ids-present': required('paymentId', 'cardId'),
 *   'amount-range': range('amount', { min: 0, max: 1_000_000 }),
 *   'currency-known': oneOf('currency', ['EUR', 'USD']),
 *   'ts-not-future': notInFuture('ts', '1h'),
 * } })
 */
export function defineContract<T>(definition: ContractDefinition<T>): DataContract<T> {
  return new DataContract(definition);
}
