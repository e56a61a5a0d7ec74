import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { checkJobs, type JobDefinition } from './job-definition.ts';

/**
 * A jobs file (`tributary schedule <file>`): JSON, or a TS/JS module whose default export has
 * this shape. Example: topologies/card-fraud.jobs.json.
 */
export interface JobsFile {
  /** Jobs running at once (default 1). */
  concurrency?: number;
  jobs: JobDefinition[];
}

const job = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  command: z.array(z.string()),
  schedule: z.string().optional(),
  every: z.union([z.string(), z.number()]).optional(),
  timezone: z.string().optional(),
  lowPriority: z.boolean().optional(),
  maxOldSpaceMb: z.number().optional(),
  env: z.record(z.string(), z.string()).optional(),
});
const file = z.strictObject({ $schema: z.string().optional(), concurrency: z.number().optional(), jobs: z.array(job) });

/** Validates a parsed jobs file; the ConfigError names the file and the field. */
export function parseJobsFile(value: unknown, source: string): JobsFile {
  const parsed = file.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('').replace(/^\./, '') || '(top level)';
    throw new ConfigError(`${source}: ${field}`, issue.message, 'see topologies/card-fraud.jobs.json: { "jobs": [{ "name", "command": [...], "schedule"?, "every"? }] }');
  }
  const { $schema: _, ...jobsFile } = parsed.data;
  checkJobs(jobsFile.jobs, jobsFile.concurrency, source);
  return jobsFile;
}

/** Reads a jobs file: .json parsed, anything else imported (its default export). */
export async function loadJobsFile(filePath: string): Promise<JobsFile> {
  const absolute = path.resolve(filePath);
  if (!existsSync(absolute)) throw new ConfigError('jobs file', `${absolute} does not exist`, 'pass a jobs file, e.g. topologies/card-fraud.jobs.json');
  if (absolute.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(absolute, 'utf8'));
    } catch (error) {
      throw new ConfigError(filePath, `not valid JSON (${error instanceof Error ? error.message : String(error)})`, 'fix the JSON syntax');
    }
    return parseJobsFile(value, filePath);
  }
  const module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  if (module.default === undefined) throw new ConfigError(filePath, 'the module has no default export', 'add `export default { jobs: [...] } satisfies JobsFile`');
  return parseJobsFile(module.default, filePath);
}
