import type { Session } from 'chdb';

/**
 * Returns memory an analyst query freed to the operating system (`SYSTEM JEMALLOC PURGE`).
 * chDB's allocator keeps freed pages for reuse and returns them only seconds later, so a few
 * queries that each stayed under max_memory_usage could still grow the engine process by
 * several times that limit in a row (measured: +650 MB over the hostile corpus with a 128 MiB
 * limit; with a purge after each query, see the report). The statement is fixed: nothing of
 * the caller's reaches this session. Errors (a build without jemalloc) are ignored.
 */
export async function purgeFreedMemory(open: () => Session): Promise<void> {
  let session: Session | undefined;
  try {
    session = open();
    await session.queryAsync('SYSTEM JEMALLOC PURGE');
  } catch {
    // Best effort: the query's own limits still hold.
  } finally {
    session?.close();
  }
}
