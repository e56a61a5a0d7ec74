import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ConfigError } from '../core/errors.ts';

/** templates/project/ of this package (next to src/ in a checkout, next to dist/ when installed). */
const TEMPLATE = fileURLToPath(new URL('../../templates/project/', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));

export interface InitOptions {
  /** What the new project's package.json depends on; default ^<this version>. */
  packageSpec?: string;
}

/** Adds `tributary init <directory>` to the CLI. */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .argument('<directory>', 'a new or empty directory for the project; its name becomes the package name')
    .description('start a project: a topology with its schemas, a runOnArray test and a README, depending on this package')
    .option('--package-spec <spec>', 'the "tributary" dependency written to package.json (default ^<this version>; e.g. file:../tributary-0.1.0.tgz)')
    .action(async (directory: string, options: InitOptions) => {
      const target = await initProject(directory, options);
      const shown = path.relative(process.cwd(), target) || '.';
      process.stdout.write(`Created a Tributary project in ${target}\n\n  cd ${shown}\n  npm install\n  npm start     # the embedded demo (generator, chDB, live WebSocket)\n  npm test      # the pipeline with runOnArray\n`);
    });
}

/** Writes the project from templates/project/ into `directory`; resolves with its absolute path. */
export async function initProject(directory: string, options: InitOptions = {}): Promise<string> {
  const target = path.resolve(directory);
  const name = packageName(path.basename(target));
  const existing = await readdir(target).catch(() => [] as string[]);
  if (existing.length > 0) throw new ConfigError('directory', `${target} is not empty`, 'give a new or empty directory, e.g. tributary init my-pipeline');
  const spec = options.packageSpec ?? `^${(JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string }).version}`;
  await mkdir(target, { recursive: true });
  await cp(TEMPLATE, target, { recursive: true });
  // npm leaves .gitignore files out of packages, so the template's is called gitignore; and the
  // package ships no *.test.* file, so the project's test is stored under another name.
  await rename(path.join(target, 'gitignore'), path.join(target, '.gitignore'));
  await rename(path.join(target, 'test', 'orders.test-template.ts'), path.join(target, 'test', 'orders.test.ts'));
  for (const file of ['package.json', 'README.md']) {
    const full = path.join(target, file);
    const text = await readFile(full, 'utf8');
    await writeFile(full, text.replaceAll('__NAME__', name).replaceAll('__TRIBUTARY_SPEC__', spec));
  }
  return target;
}

/** A valid npm package name from a directory name: lower case, no spaces or odd characters. */
function packageName(directoryName: string): string {
  const name = directoryName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '');
  if (name === '') throw new ConfigError('directory', `"${directoryName}" gives no usable package name`, 'name the directory with letters or digits, e.g. my-pipeline');
  return name;
}
