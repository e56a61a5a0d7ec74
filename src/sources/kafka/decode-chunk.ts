import { DecodeError, errorMessage } from '../../core/errors.ts';
import type { DeadLetter, StreamRecord } from '../../core/batch.ts';
import type { Decoder } from '../../serde/decoder.ts';
import type { FetchedBatch } from '../../kafka/kafka-client.ts';
import { eventTimeOf } from '../event-time.ts';

/** One chunk of a fetched batch, decoded: what the source hands to the engine at once. */
export interface DecodedChunk<T> {
  records: StreamRecord<T>[];
  deadLetters: DeadLetter[];
  maxEventTime: number;
  /** Index after the chunk's last message. */
  end: number;
  /** Encoded bytes of the chunk's message values. */
  bytes: number;
}

/**
 * Decodes messages[start..] until `maxRecords` messages or `maxBytes` encoded bytes (at least
 * one message). Records keep nothing of the fetch response; a dead letter keeps a copy of its
 * bytes, since a message value is a view into the whole response and would hold all of it.
 */
export function decodeChunk<T>(
  messages: FetchedBatch['messages'],
  start: number,
  limits: { maxRecords: number; maxBytes: number },
  decoder: Decoder<T>,
  selectEventTime: (value: T) => number,
  topic: string,
  partition: number,
): DecodedChunk<T> {
  const last = Math.min(start + limits.maxRecords, messages.length);
  const records: StreamRecord<T>[] = [];
  const deadLetters: DeadLetter[] = [];
  let maxEventTime = -Infinity;
  let bytes = 0;
  let i = start;
  for (; i < last && (i === start || bytes < limits.maxBytes); i++) {
    const message = messages[i]!;
    const raw = message.value;
    if (raw !== null) bytes += raw.length;
    try {
      if (raw === null) throw new DecodeError('message has no value (tombstone)', { code: 'EMPTY' });
      const value = decoder.decode(raw);
      const eventTime = eventTimeOf(selectEventTime, value);
      if (eventTime > maxEventTime) maxEventTime = eventTime;
      records.push({ value, key: '', eventTime, topic, partition, offset: message.offset });
    } catch (error) {
      deadLetters.push({ step: 'decode', topic, partition, offset: message.offset, error: errorMessage(error), raw: raw === null ? null : Buffer.from(raw), timestamp: Number(message.timestamp) });
    }
  }
  return { records, deadLetters, maxEventTime, end: i, bytes };
}
