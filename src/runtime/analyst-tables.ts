import type { SinkSpec } from '../sinks/sink.ts';
import type { AnyTopology } from '../topology/define-topology.ts';

/**
 * The tables the SQL endpoint lets analysts read: every ClickHouse table and rollup view the
 * topology's sinks and late-record sink write. Its dead-letter tables are left out (they hold
 * the raw bytes of records that failed): admins read those, with every other table of the
 * database.
 */
export function analystTables(topology: AnyTopology): string[] {
  const specs: Array<SinkSpec<never> | undefined> = [...Object.values(topology.sinks).flatMap((list) => (list ?? []) as SinkSpec<never>[]), topology.late as SinkSpec<never> | undefined];
  const deadLetters = new Set([topology.deadLetter ?? []].flat().flatMap((spec) => spec.tables ?? []));
  const tables = new Set(specs.flatMap((spec) => spec?.tables ?? []));
  return [...tables].filter((table) => !deadLetters.has(table)).sort();
}
