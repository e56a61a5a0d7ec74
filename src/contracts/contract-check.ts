import type { DeadLetter, StreamRecord } from '../core/batch.ts';
import { jsonBytes } from '../core/json-bytes.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { DataContract } from './define-contract.ts';

/** A record that broke a contract rule, with what broke it. */
export interface ContractViolation {
  contract: string;
  rule: string;
  /** The offending value, short: 'amount=-5'. */
  offending: string;
  /** 'contract payment, rule amount-range (amount in [0, 1000000]): amount=-5' */
  error: string;
  record: StreamRecord<unknown>;
}

export interface CheckedRecords<T> {
  /** The records that keep every rule, in order (the input array itself when all do). */
  kept: StreamRecord<T>[];
  /** The others, in order; empty (a shared array) when there are none. */
  violations: ContractViolation[];
}

const NONE: ContractViolation[] = [];

/**
 * A topology's contract at work on batches: splits each batch's records into those that keep
 * every rule and the violations, and counts the violations per rule. Batch-first: a clean batch
 * costs one loop over its records and rules and allocates nothing; a batch with violations
 * allocates the kept array and one object per violation.
 */
export class ContractCheck<T> {
  readonly contract: DataContract<T>;
  private readonly labels: Array<{ topology: string; rule: string }>;
  private readonly counts: number[];
  private readonly metrics: Metrics | undefined;

  constructor(contract: DataContract<T>, report?: { metrics: Metrics; topology: string }) {
    this.contract = contract;
    this.metrics = report?.metrics;
    this.labels = contract.ruleNames.map((rule) => ({ topology: report?.topology ?? '', rule }));
    this.counts = contract.ruleNames.map(() => 0);
    // Every rule from the start at 0, so a rate (and an alert on it) exists before the first violation.
    for (const labels of this.labels) this.metrics?.contractViolations.inc(labels, 0);
  }

  /** Checks `records` at `processingTime` (see ContractContext). */
  apply(records: StreamRecord<T>[], processingTime: number): CheckedRecords<T> {
    const contract = this.contract;
    const context = { processingTime };
    let first = -1;
    let broken = -1;
    for (let i = 0; i < records.length; i++) {
      broken = contract.firstBroken(records[i]!.value, context);
      if (broken >= 0) {
        first = i;
        break;
      }
    }
    if (first < 0) return { kept: records, violations: NONE };
    const kept = records.slice(0, first);
    const violations: ContractViolation[] = [];
    this.violate(violations, records[first]!, broken);
    for (let i = first + 1; i < records.length; i++) {
      const record = records[i]!;
      const rule = contract.firstBroken(record.value, context);
      if (rule < 0) kept.push(record);
      else this.violate(violations, record, rule);
    }
    this.report();
    return { kept, violations };
  }

  private violate(violations: ContractViolation[], record: StreamRecord<T>, index: number): void {
    const { contract } = this;
    const rule = contract.ruleNames[index]!;
    const offending = contract.rules[index]!.offending(record.value);
    violations.push({ contract: contract.name, rule, offending, error: `contract ${contract.name}, rule ${rule} (${contract.rules[index]!.description}): ${offending}`, record });
    this.counts[index]!++;
  }

  /** One increment per rule that was broken in the batch. */
  private report(): void {
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      this.metrics?.contractViolations.inc(this.labels[i]!, counts[i]);
      counts[i] = 0;
    }
  }
}

/**
 * A violation as a dead letter: step `contract:<rule>`, the record's provenance, the error text
 * and, as `raw`, the decoded value as JSON (the source's original bytes stay in the topic at
 * that offset).
 */
export function violationLetter(violation: ContractViolation): DeadLetter {
  const { record } = violation;
  const letter: DeadLetter = { step: `contract:${violation.rule}`, topic: record.topic, partition: record.partition, offset: record.offset, error: violation.error, raw: jsonBytes(record.value), timestamp: record.eventTime };
  if (record.key !== '') letter.key = record.key;
  return letter;
}
