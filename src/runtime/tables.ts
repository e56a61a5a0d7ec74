import { ConfigError, errorMessage } from '../core/errors.ts';
import type { LookupTable } from '../tables/lookup-table.ts';
import type { RunningTableSource, TableEnvironment } from '../tables/table-source.ts';
import type { AnyTopology } from '../topology/define-topology.ts';

export type { TableEnvironment } from '../tables/table-source.ts';

export interface RunningTables {
  close(): Promise<void>;
}

/** Tables being filled by a running engine in this process: one table object has one source. */
const fed = new WeakSet<LookupTable<unknown>>();

/**
 * Starts the sources of the lookup tables the topology declares (in `tables`), all at once, and
 * resolves when every one has caught up with its source as it was at this call: the engine
 * creates the main source only then, so the first record already sees the complete tables.
 * Tables without a source (lookupTable()) are left as they are. If one fails to start, those
 * started are closed and the error is thrown.
 */
export async function startTables(topology: AnyTopology, environment: TableEnvironment): Promise<RunningTables> {
  const tables = (topology.tables ?? []).filter((table) => table.source !== undefined);
  for (const table of tables) {
    if (fed.has(table)) {
      throw new ConfigError(`tables.${table.name}`, 'this table object is already filled by another running engine in this process', 'create one table per topology instance (e.g. inside the function that creates the topology)');
    }
  }
  const started: Array<{ table: LookupTable<unknown>; running: RunningTableSource }> = [];
  const results = await Promise.allSettled(
    tables.map(async (table) => {
      fed.add(table);
      try {
        // The source is the truth: whatever the object held (an earlier run, a test) goes.
        table.clear();
        const running = await table.source!.start(table, environment);
        table.feeding = true;
        started.push({ table, running });
      } catch (error) {
        fed.delete(table);
        throw error;
      }
    }),
  );
  const close = async () => {
    await Promise.all(
      started.splice(0).map(async ({ table, running }) => {
        try {
          await running.close();
        } catch (error) {
          environment.logger.warn({ table: table.name, err: errorMessage(error) }, 'closing a table source failed');
        } finally {
          table.feeding = false;
          fed.delete(table);
        }
      }),
    );
  };
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await close();
    throw failure.reason;
  }
  return { close };
}
