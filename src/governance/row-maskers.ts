import type { DeadLetter, LateRecord, StreamRecord } from '../core/batch.ts';
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
