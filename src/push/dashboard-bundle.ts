import { buildSync } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));
/** The built page: one self-contained HTML file (script and styles inline, no CDN: works offline). */
const DASHBOARD_BUNDLE = fileURLToPath(new URL('../../dist/dashboard/index.html', import.meta.url));

/**
 * Bundles the dashboard (src/dashboard/main.ts with uPlot) into dist/dashboard/index.html with
 * esbuild. `npm install` runs it (the `prepare` script); the engine runs it too when the bundle is
 * missing or older than its sources, so a checkout always serves the current page.
 */
export function buildDashboard(): string {
  // Synchronous (about 0.1 s): it runs once, at server start, before anything is served.
  const result = buildSync({
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

/** True when the bundle is missing or a dashboard source is newer than it. */
function dashboardBundleStale(): boolean {
  let built: number;
  try {
    built = statSync(DASHBOARD_BUNDLE).mtimeMs;
  } catch {
    return true;
  }
  return readdirSync(SOURCE_DIR).some((file) => statSync(`${SOURCE_DIR}${file}`).mtimeMs > built);
}

/** The built page, rebuilt first when stale. */
export function dashboardBundle(): string {
  if (dashboardBundleStale()) buildDashboard();
  return readFileSync(DASHBOARD_BUNDLE, 'utf8');
}
