/**
 * A process appending to one audit log at the same time as others (chain-concurrency.test.ts):
 * argv: file, writer name, entries, start file. Waits for the start file (so all writers start
 * together), then records in bursts, so appends batch and interleave.
 */
import { access, writeFile } from 'node:fs/promises';
import { AuditLog } from '../../../src/audit/audit-log.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

const [file, writer, count, start] = process.argv.slice(2) as [string, string, string, string];
await writeFile(`${start}.${writer}.ready`, '');
for (;;) {
  try {
    await access(start);
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const log = new AuditLog({ file, logger: silentLogger });
const writes: Array<Promise<void>> = [];
for (let i = 0; i < Number(count); i++) {
  writes.push(log.record({ action: 'test.append', principal: writer, outcome: 'ok', details: { i } }));
  if (i % 7 === 6) {
    await Promise.all(writes.splice(0));
    // A pause between bursts, as real writers have, in which the others can take the lock.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
  }
}
await Promise.all(writes);
await log.close();
