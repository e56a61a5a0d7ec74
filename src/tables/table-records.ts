import { errorMessage, RecordError } from '../core/errors.ts';
import type { Decoder } from '../serde/decoder.ts';
import type { KafkaMessage } from '../kafka/kafka-client.ts';
import type { LookupTable } from './lookup-table.ts';

/** How the records of a table's topic become table operations. */
export interface TableRecordReader<V> {
  decoder: Decoder<V>;
  /** The key of a decoded value; absent: the message key (UTF-8). Tombstones always use the message key. */
  key?: (value: V) => string | number;
}

export interface AppliedMessages {
  updates: number;
  deletes: number;
  /** Records that changed nothing because they could not be applied, with why. */
  invalid: Array<{ offset: string; error: string }>;
  /** One past the last offset seen (the next offset to read); null for no messages. */
  nextOffset: bigint | null;
}

/**
 * Applies one partition's messages to `table`, in offset order, so the latest offset of a key
 * wins: a value sets the key (its update time is the message timestamp), a tombstone (null
 * value) deletes it. A record that cannot be applied (undecodable, no key) is reported in
 * `invalid` and skipped: one bad record must not stop a table from loading. Messages before
 * `from` were applied already (a re-read after a rebalance) and are skipped, so a value never
 * goes back to an older one.
 */
export function applyMessages<V>(table: LookupTable<V>, reader: TableRecordReader<V>, messages: readonly KafkaMessage[], from: bigint): AppliedMessages {
  const result: AppliedMessages = { updates: 0, deletes: 0, invalid: [], nextOffset: null };
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    const offset = BigInt(message.offset);
    result.nextOffset = offset + 1n;
    if (offset < from) continue;
    try {
      if (message.value === null) {
        table.delete(messageKey(message, 'a tombstone'));
        result.deletes++;
        continue;
      }
      const value = reader.decoder.decode(message.value);
      if (value === null || value === undefined) throw new RecordError(`the value decodes to ${String(value)} (a tombstone has no value bytes at all)`, 'TABLE_VALUE');
      const key = reader.key ? selectedKey(reader.key, value) : messageKey(message, 'a record');
      const timestamp = Number(message.timestamp); // -1: a record without a timestamp (old formats)
      table.apply(key, value, timestamp > 0 ? timestamp : undefined);
      result.updates++;
    } catch (error) {
      result.invalid.push({ offset: message.offset, error: errorMessage(error) });
    }
  }
  return result;
}

function messageKey(message: KafkaMessage, what: string): string {
  if (message.key === null || message.key.length === 0) throw new RecordError(`${what} without a message key`, 'TABLE_KEY');
  return message.key.toString('utf8');
}

function selectedKey<V>(select: (value: V) => string | number, value: V): string {
  const key = select(value);
  if ((typeof key !== 'string' && typeof key !== 'number') || key === '') throw new RecordError(`the key function returned ${JSON.stringify(key) ?? String(key)}, not a non-empty string or number`, 'TABLE_KEY');
  return String(key);
}
