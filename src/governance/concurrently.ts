/**
 * Runs `task` on every item with at most `limit` in flight, in no particular order; rejects with
 * the first failure once the tasks in flight have settled. For file-system calls, which each
 * take a round trip through libuv's thread pool: one after another, a batch of a thousand keys
 * waited for four thousand round trips in a row (README, "Close-path latency").
 */
export async function eachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}
