// V8 heap limits from the memory budget (TRIBUTARY_MEMORY_MB, default 512): the engine process
// is started with them by bin/tributary.js. Plain JavaScript without imports, because the flags
// must be chosen before Node starts the engine (they cannot change once the heap exists).

/** The budget when TRIBUTARY_MEMORY_MB is unset (whole process, MB). */
export const DEFAULT_MEMORY_MB = 512;
/** Below this an engine with Kafka, ClickHouse and a topology does not fit. */
export const MIN_MEMORY_MB = 128;

/** The budget in MB, or null when the text is not a whole number of at least MIN_MEMORY_MB (the engine's config check then names the fix). */
export function parseMemoryMb(text) {
  if (text === undefined || text === '') return DEFAULT_MEMORY_MB;
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const mb = Number(text);
  return mb >= MIN_MEMORY_MB ? mb : null;
}

/**
 * Old space gets 60% of the budget (the rest: young generation, code, native buffers, Node
 * itself). The semi-space is 1/128 of the budget within 1-16 MB: 4 MB at the default budget.
 * Larger ones save drain CPU (16 MB: ~12% on the windows bench) but cost peak RSS (~+40 MB) and
 * idle RSS: start-up grows the young generation to its maximum, and V8's memory reducer gives it
 * back only after a minute or so of idling (idle at 16 MB: ~145 MiB, at 4 MB: ~120, at 2: ~111).
 */
export function v8FlagsForBudget(memoryMb) {
  const oldSpaceMb = Math.floor(memoryMb * 0.6);
  const semiSpaceMb = Math.max(1, Math.min(16, Math.floor(memoryMb / 128)));
  return [`--max-old-space-size=${oldSpaceMb}`, `--max-semi-space-size=${semiSpaceMb}`];
}

/** True when the operator already chose heap limits (NODE_OPTIONS or node's own flags): theirs win. */
export function heapFlagsGiven(execArgv, nodeOptions) {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((flag) => /^--max-(old|semi)-space-size/.test(flag));
}
