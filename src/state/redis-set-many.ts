import type { Redis } from 'ioredis';

/**
 * Writes many keys, each with its own value and one shared expiry, in a few script calls instead
 * of one pipelined SET per key: ioredis builds a command object, a promise and a reply per
 * command, which for a burst of 10,000 keys cost ~105 ms of the event loop against ~22 ms in
 * calls of 500 keys (`node --import tsx scripts/bench-redis-writes.ts`). The keys are passed as
 * KEYS, so Redis checks them against the user's ACL key patterns as it would for SET.
 */
const SET_MANY_LUA = `local ttl = ARGV[1]
for i = 1, #KEYS do
  if ttl == '0' then redis.call('SET', KEYS[i], ARGV[i + 1]) else redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ttl) end
end
return #KEYS`;

const COMMAND = 'tributarySetMany';
/** Keys per script call: Redis runs a call to its end before anything else, so it stays short (~0.5 ms). */
const MAX_KEYS_PER_CALL = 500;
/**
 * Characters of values per script call (JS string length, about their bytes), so large values
 * make smaller calls. ioredis writes a call as one string: kept under V8's large-object size
 * (128 KiB), it is an ordinary young object that dies once written, where a larger one would
 * wait for a full mark-compact (500 predictions of ~350 characters made ~190 KB calls).
 */
const MAX_CHARS_PER_CALL = 64 * 1024;

type SetManyCommand = (...args: string[]) => Promise<number>;

/**
 * SET key value [PX ttlMs] for every pair (`ttlMs` 0: no expiry); rejects when any call fails.
 * The script is registered on the client on first use (EVALSHA, which ioredis follows with EVAL on NOSCRIPT).
 */
export async function setMany(redis: Redis, keys: readonly string[], values: readonly string[], ttlMs: number): Promise<void> {
  const commands = redis as unknown as Record<string, SetManyCommand | undefined>;
  if (commands[COMMAND] === undefined) redis.defineCommand(COMMAND, { lua: SET_MANY_LUA });
  const command = commands[COMMAND]!.bind(redis);
  const ttl = String(Math.max(0, Math.floor(ttlMs)));
  const calls: Promise<number>[] = [];
  for (let start = 0; start < keys.length; ) {
    let end = start;
    let chars = 0;
    while (end < keys.length && end - start < MAX_KEYS_PER_CALL && (end === start || chars + values[end]!.length <= MAX_CHARS_PER_CALL)) chars += values[end++]!.length;
    const count = end - start;
    // numkeys, the keys, then ARGV: the expiry and the values.
    const args = new Array<string>(2 + 2 * count);
    args[0] = String(count);
    args[1 + count] = ttl;
    for (let i = 0; i < count; i++) {
      args[1 + i] = keys[start + i]!;
      args[2 + count + i] = values[start + i]!;
    }
    calls.push(command(...args));
    start = end;
  }
  await Promise.all(calls);
}
