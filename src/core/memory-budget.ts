import { ConfigError } from './errors.ts';

/**
 * The memory budget (TRIBUTARY_MEMORY_MB: the whole process, in MB) and what the engine derives
 * from it besides V8's heap limits (those are chosen before Node starts, by bin/memory-flags.js,
 * which keeps the same default and minimum): how many bytes of fetched records may wait in the
 * in-flight buffer, and how much one Kafka fetch may bring.
 */
export interface MemoryBudget {
  /** TRIBUTARY_MEMORY_MB, or the default (512) when unset. */
  memoryMb: number;
  /** Raw (encoded) bytes of records queued or being processed (TRIBUTARY_MAX_IN_FLIGHT_BYTES). */
  maxInFlightBytes: number;
  /** kafkajs maxBytes: what one fetch response may hold over all partitions. */
  fetchMaxBytes: number;
  /** kafkajs maxBytesPerPartition. */
  fetchMaxBytesPerPartition: number;
}

export const DEFAULT_MEMORY_MB = 512;
/** TRIBUTARY_MAX_IN_FLIGHT (records) when unset, without a budget and with one (see defaultMaxInFlightRecords). */
const DEFAULT_MAX_IN_FLIGHT = 50_000;
const BUDGETED_MAX_IN_FLIGHT = 5_000;
export const MIN_MEMORY_MB = 128;
const MB = 1024 * 1024;
const MIN_IN_FLIGHT_BYTES = 64 * 1024;

const clamp = (value: number, low: number, high: number) => Math.max(low, Math.min(high, value));

function wholeNumber(setting: string, text: string, min: number, fix: string): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(value >= min)) throw new ConfigError(setting, `${JSON.stringify(text)} is not a whole number of at least ${min}`, fix);
  return value;
}

/**
 * Reads TRIBUTARY_MEMORY_MB and TRIBUTARY_MAX_IN_FLIGHT_BYTES. A fetch gets 1/1024 of a budget
 * that was set, 1/256 of the default one (256 KB-16 MB; a partition a quarter of that, 64 KB-4 MB):
 * kafkajs decodes a whole response into message objects (several times its bytes) and holds them
 * until every record in it was handed over, and the next response arrives meanwhile; at 16 MB
 * that is most of a 300 MB drain's heap. Records in flight may take 1/16 of the budget in encoded
 * bytes (decoded objects are a few times larger), so large messages cannot fill the heap while
 * the record count (TRIBUTARY_MAX_IN_FLIGHT) still looks small.
 */
export function loadMemoryBudget(env: Record<string, string | undefined>): MemoryBudget {
  const memoryText = env.TRIBUTARY_MEMORY_MB?.trim();
  const memoryMb = memoryText ? wholeNumber('TRIBUTARY_MEMORY_MB', memoryText, MIN_MEMORY_MB, `set the process's memory budget in MB, at least ${MIN_MEMORY_MB}, e.g. TRIBUTARY_MEMORY_MB=512 (unset: ${DEFAULT_MEMORY_MB})`) : DEFAULT_MEMORY_MB;
  const budgetBytes = memoryMb * MB;
  // A fetch's decoded messages live until the engine has taken all of them in: the larger the
  // fetch, the more of them outlive the young generation and are promoted. On the windows bench
  // (1M events, 2026-12-07) a set budget of 512 drained ~394k events/s at 4.6 s of CPU and
  // 214-226 MiB with 512 KB fetches, against ~339k/s, 5.5 s and 247-254 MiB with 2 MB; unset
  // (no old-space cap), 2 MB fetches drained as fast as 8 MB ones at 390-411 instead of
  // 501-590 MiB. So 1/1024 of a set budget, 1/256 of the default one.
  const fetchMaxBytes = clamp(Math.floor(budgetBytes / (memoryText ? 1024 : 256)), 256 * 1024, 16 * MB);
  const fetchMaxBytesPerPartition = clamp(Math.floor(fetchMaxBytes / 4), 64 * 1024, 4 * MB);
  const bytesText = env.TRIBUTARY_MAX_IN_FLIGHT_BYTES?.trim();
  const limit = Math.floor(budgetBytes / 2);
  const fix = `a whole number of bytes between ${MIN_IN_FLIGHT_BYTES} and half the memory budget (${limit} with TRIBUTARY_MEMORY_MB=${memoryMb}), e.g. TRIBUTARY_MAX_IN_FLIGHT_BYTES=33554432; or raise TRIBUTARY_MEMORY_MB`;
  const maxInFlightBytes = bytesText ? wholeNumber('TRIBUTARY_MAX_IN_FLIGHT_BYTES', bytesText, MIN_IN_FLIGHT_BYTES, fix) : Math.floor(budgetBytes / 16);
  if (maxInFlightBytes > limit) {
    throw new ConfigError('TRIBUTARY_MAX_IN_FLIGHT_BYTES', `${maxInFlightBytes} bytes is more than half of the memory budget (TRIBUTARY_MEMORY_MB=${memoryMb})`, fix);
  }
  return { memoryMb, maxInFlightBytes, fetchMaxBytes, fetchMaxBytesPerPartition };
}

/**
 * The record-count bound of the in-flight buffer when TRIBUTARY_MAX_IN_FLIGHT is unset. Under a
 * budget that was set (V8's old space capped), 5,000: records that wait in the buffer outlive
 * the young generation and are promoted into the capped old space, which then collects more
 * often. On the windows bench (1M events, TRIBUTARY_MEMORY_MB=512, two runs each) 5,000 instead
 * of 50,000 took 9.9-10.1 instead of 11.9-12.5 us of CPU an event and peaked at 244-249 instead
 * of 280 MiB RSS. Without a budget the difference was within the noise: 50,000.
 */
export function defaultMaxInFlightRecords(env: Record<string, string | undefined>): number {
  return env.TRIBUTARY_MEMORY_MB?.trim() ? BUDGETED_MAX_IN_FLIGHT : DEFAULT_MAX_IN_FLIGHT;
}
