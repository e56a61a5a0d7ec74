// V8 heap limits from the memory budget (TRIBUTARY_MEMORY_MB): the engine process is started
// with them by bin/tributary.js. Plain JavaScript without imports, because the flags must be
// chosen before Node starts the engine (they cannot change once the heap exists).

/** The budget the engine's other bounds assume when TRIBUTARY_MEMORY_MB is unset (MB). */
export const DEFAULT_MEMORY_MB = 512;
/** Below this an engine with Kafka, ClickHouse and a topology does not fit. */
export const MIN_MEMORY_MB = 128;
/** The young generation's semi-space without a budget (MB), see v8FlagsForBudget. */
export const DEFAULT_SEMI_SPACE_MB = 4;

/** The budget in MB, or null when the text is not a whole number of at least MIN_MEMORY_MB (the engine's config check then names the fix). */
export function parseMemoryMb(text) {
  if (text === undefined || text.trim() === '') return DEFAULT_MEMORY_MB;
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const mb = Number(text);
  return mb >= MIN_MEMORY_MB ? mb : null;
}

/**
 * The flags for a TRIBUTARY_MEMORY_MB setting, or null when it is invalid. Unset, only the
 * semi-space is chosen (4 MB): the old space keeps Node's limit, because a cap costs drain CPU
 * (below). Set, the budget is a promise, and the old space is capped too.
 */
export function v8FlagsFor(setting) {
  if (setting === undefined || setting.trim() === '') return [`--max-semi-space-size=${DEFAULT_SEMI_SPACE_MB}`];
  const memoryMb = parseMemoryMb(setting);
  return memoryMb === null ? null : v8FlagsForBudget(memoryMb);
}

/** How far V8 lets the old space grow past what a mark-compact left alive, under a budget (percent). */
const HEAP_GROWING_PERCENT = 100;

/**
 * Old space gets 60% of the budget (the rest: young generation, code, native buffers, Node
 * itself). A cap below ~2 GB makes V8 collect the old space far more often, and records that
 * wait in the in-flight buffer outlive a small young generation and are promoted: on the windows
 * bench (1M events, 2 cores) a 307 MB cap with a 4 MB semi-space cost ~11 us of CPU per event
 * against ~6.4 without a cap. The semi-space is therefore 1/16 of the budget within 1-32 MB
 * (512: 32 MB, ~7.6-8.1 us per event, so the young generation may take 96 MB of it). Start-up
 * grows the young generation and V8's memory reducer gives it back only after a minute or so
 * of idling, so an idle engine under a budget holds more for that minute; without a budget the
 * semi-space stays at 4 MB (an idle engine ~110 MiB).
 *
 * V8 also treats a heap capped under 2 GB as a small device's: after each mark-compact it lets
 * the old space grow by only ~1.3x of what stayed alive (307 MB: 1.32), so an engine with 60 MB
 * live ran a mark-compact every ~1.8 s at 20,000 payments/s. `--heap-growing-percent` sets 2x:
 * one every ~6 s, still within the cap, which V8 keeps regardless.
 */
export function v8FlagsForBudget(memoryMb) {
  const oldSpaceMb = Math.floor(memoryMb * 0.6);
  const semiSpaceMb = Math.max(1, Math.min(32, Math.floor(memoryMb / 16)));
  return [`--max-old-space-size=${oldSpaceMb}`, `--max-semi-space-size=${semiSpaceMb}`, `--heap-growing-percent=${HEAP_GROWING_PERCENT}`];
}

/** True when the operator already chose heap limits or growth (NODE_OPTIONS or node's own flags): theirs win. */
export function heapFlagsGiven(execArgv, nodeOptions) {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((flag) => /^--(max-(old|semi)-space-size|heap-growing-percent)/.test(flag));
}
