import { readFileSync } from 'node:fs';

/** Marker in index.html replaced by the (escaped) topology name. */
const TOPOLOGY_MARKER = /__TRIBUTARY_TOPOLOGY__/g;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

let template: string | undefined;

/**
 * The dashboard page: one self-contained HTML file next to this module, read once per process
 * (synchronously, at server start, never per request) with the topology name filled in.
 */
export function dashboardHtml(topology = 'tributary'): string {
  template ??= readFileSync(new URL('./dashboard/index.html', import.meta.url), 'utf8');
  return template.replace(TOPOLOGY_MARKER, escapeHtml(topology));
}
