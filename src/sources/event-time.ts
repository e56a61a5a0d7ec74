import { DecodeError } from '../core/errors.ts';

/**
 * The event time of a value (epoch ms) by the source's `eventTime` function. Anything but a
 * finite number would poison the watermark, so it is a DecodeError (code EVENT_TIME) and the
 * record goes to the dead letters.
 */
export function eventTimeOf<T>(select: (value: T) => number, value: T): number {
  const eventTime = select(value);
  if (typeof eventTime !== 'number' || !Number.isFinite(eventTime)) {
    throw new DecodeError(`event time is ${String(eventTime)}, not a number of epoch milliseconds`, { code: 'EVENT_TIME' });
  }
  return eventTime;
}
