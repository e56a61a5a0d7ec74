import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));
/** The built page: one self-contained HTML file (script and styles inline, no CDN: works offline). */
const DASHBOARD_BUNDLE = fileURLToPath(new URL('../../dist/dashboard/index.html', import.meta.url));

/**
 * Bundles the dashboard (src/dashboard/main.ts with uPlot) into dist/dashboard/index.html with
 * esbuild. `npm install` in a checkout runs it (the `prepare` script) and so does `npm run build`;
 * the engine runs it too when the bundle is older than its sources, so a checkout always serves
 * the current page. An installed package ships the bundle and no sources: esbuild (a build tool,
 * not a dependency) is never loaded there.
 */
export async function buildDashboard(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [`${SOURCE_DIR}main.ts`],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((file) => file.path.endsWith('.js'))!.text;
  const css = result.outputFiles.find((file) => file.path.endsWith('.css'))?.text ?? '';
  const template = readFileSync(`${SOURCE_DIR}index.html`, 'utf8');
  // Split/join, not replace: the bundle may contain `$&` sequences that replace() would expand.
  // '</script' cannot occur in the inlined code: esbuild escapes it in string literals.
  const html = template.split('/*__APP_CSS__*/').join(css).split('/*__APP_JS__*/').join(js);
  mkdirSync(dirname(DASHBOARD_BUNDLE), { recursive: true });
  writeFileSync(DASHBOARD_BUNDLE, html);
  return DASHBOARD_BUNDLE;
}

/** True in a checkout (the sources are there) when the bundle is missing or a source is newer. */
function dashboardBundleStale(): boolean {
  if (!existsSync(`${SOURCE_DIR}main.ts`)) return false;
  let built: number;
  try {
    built = statSync(DASHBOARD_BUNDLE).mtimeMs;
  } catch {
    return true;
  }
  return readdirSync(SOURCE_DIR).some((file) => statSync(`${SOURCE_DIR}${file}`).mtimeMs > built);
}

/** The built page, rebuilt first when stale (once, at server start, before anything is served). */
export async function dashboardBundle(): Promise<string> {
  if (dashboardBundleStale()) await buildDashboard();
  return readFileSync(DASHBOARD_BUNDLE, 'utf8');
}
