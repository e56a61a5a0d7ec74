import type { DeadLetter, LateRecord, StreamRecord } from '../core/batch.ts';
import type { ContractViolation } from '../contracts/contract-check.ts';
import { sealBytes, sealText } from './envelope.ts';
import type { Keyring } from './keyring.ts';
import type { ResolvedPolicy } from './policies.ts';
import type { SubjectKeys, ValueMasker } from './value-masker.ts';

/**
 * Masks a batch of rows for one view of one sink, before the sink sees them. `subjects` lists
 * the subjects whose keys the batch needs (tokens); the caller loads them once per batch.
 */
export interface RowMasker<R> {
  subjects(rows: readonly R[], into: Set<string>): void;
  mask(rows: readonly R[], keys: SubjectKeys): R[];
}

const NO_KEYS: SubjectKeys = new Map();

/** Pipeline records (tables, online state, channels): value fields and the record key. */
export function recordMasker<T>(masker: ValueMasker): RowMasker<StreamRecord<T>> {
  return {
    subjects(records, into) {
      if (!masker.needsKeys) return;
      for (const record of records) {
        const subject = masker.subjectOf(record.value, record.key);
        if (subject !== undefined) into.add(subject);
      }
    },
    mask(records, keys) {
      const masked = new Array<StreamRecord<T>>(records.length);
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const subject = masker.needsKeys ? masker.subjectOf(record.value, record.key) : undefined;
        masked[i] = { ...record, key: masker.maskKey(record.key), value: masker.mask(record.value, subject, keys) as T };
      }
      return masked;
    },
  };
}

/** Late records: the key and the value's fields, like any record. */
export function lateMasker(masker: ValueMasker): RowMasker<LateRecord> {
  return {
    subjects(records, into) {
      if (!masker.needsKeys) return;
      for (const late of records) {
        const subject = masker.subjectOf(late.value, late.key);
        if (subject !== undefined) into.add(subject);
      }
    },
    mask(records, keys) {
      return records.map((late) => {
        const subject = masker.needsKeys ? masker.subjectOf(late.value, late.key) : undefined;
        return { ...late, key: masker.maskKey(late.key), value: masker.mask(late.value, subject, keys) };
      });
    },
  };
}

/**
 * Records that broke the data contract: the record's fields and key like any record, and the
 * offending text (`amount=-5`, quoted in the error too) rewritten from the masked record
 * wherever it names a masked field, so the rule and the field still show.
 */
export function quarantineMasker(masker: ValueMasker): RowMasker<ContractViolation> {
  const records = recordMasker<unknown>(masker);
  return {
    subjects(violations, into) {
      records.subjects(violations.map((v) => v.record), into);
    },
    mask(violations, keys) {
      const masked = records.mask(violations.map((v) => v.record), keys);
      return violations.map((violation, i) => {
        const record = masked[i]!;
        const offending = maskedOffending(violation.offending, record.value, masker);
        return { ...violation, offending, error: violation.error.split(violation.offending).join(offending), record };
      });
    },
  };
}

/** `field=value` parts as contracts write them; those of masked fields with the masked value. */
function maskedOffending(offending: string, value: unknown, masker: ValueMasker): string {
  const fields = [...offending.matchAll(/(?:^| )([A-Za-z_$][\w$]*)=/g)].map((m) => m[1]!);
  if (!fields.some((field) => masker.masks(field))) return offending;
  const record = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  return fields.map((field) => `${field}=${String(JSON.stringify(record[field]) ?? 'undefined').slice(0, 64)}`).join(' ');
}

/**
 * Dead letters of records that may hold tagged fields: raw bytes and error text (which may quote
 * a value) sealed under the dead-letter key ('encrypt', admin reads them with openDeadLetter) or
 * removed ('drop'); the message key (the subject's id, by convention) pseudonymized.
 */
export function deadLetterMasker(raw: ResolvedPolicy, keyring: Keyring): RowMasker<DeadLetter> {
  const { key: sealKey, version } = keyring.deadLetterKey;
  const pseudonyms = keyring.pseudonyms;
  const encrypt = raw.kind === 'encrypt';
  return {
    subjects() {},
    mask(letters) {
      return letters.map((letter) => ({
        ...letter,
        raw: letter.raw === null ? null : encrypt ? sealBytes(letter.raw, sealKey, version) : null,
        // Cut before sealing: the Kafka topic keeps 4,000 characters of a header, and a cut seal cannot be opened.
        error: encrypt ? sealText(letter.error.slice(0, 2_000), sealKey, version) : '(dropped by the data protection policy)',
        ...(letter.key === undefined || letter.key === '' ? {} : { key: pseudonyms.hash(letter.key) }),
      }));
    },
  };
}

export { NO_KEYS };
