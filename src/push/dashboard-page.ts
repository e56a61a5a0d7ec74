import { dashboardBundle } from './dashboard-bundle.ts';

/** Marker in index.html replaced by the (escaped) topology name. */
const TOPOLOGY_MARKER = /__TRIBUTARY_TOPOLOGY__/g;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

let template: Promise<string> | undefined;

/**
 * The dashboard page: one self-contained HTML file (src/dashboard, bundled with uPlot into
 * dist/dashboard), read once per process (at server start, never per request) with the topology
 * name filled in.
 */
export async function dashboardHtml(topology = 'tributary'): Promise<string> {
  template ??= dashboardBundle();
  return (await template).replace(TOPOLOGY_MARKER, escapeHtml(topology));
}
