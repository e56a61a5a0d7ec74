import type { StatsSnapshot } from '../runtime/stats-snapshot.ts';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 190;
const NODE_H = 46;
const GAP_X = 60;
const GAP_Y = 14;

interface GraphNode {
  id: string;
  label: string;
  detail: string;
  state: 'ok' | 'busy' | 'blocked';
  column: number;
}

function rate(perSecond: number | null): string {
  if (perSecond === null) return '';
  return perSecond >= 1000 ? `${(perSecond / 1000).toFixed(1)}k/s` : `${Math.round(perSecond)}/s`;
}

/**
 * The topology as a left-to-right graph: the source, its operators in pipeline order, then the
 * sinks, each with its live rate; a node is amber or red when it holds the engine back. Each node
 * carries `data-node` (its name), for tests.
 */
export function renderTopology(svg: SVGSVGElement, stats: StatsSnapshot): void {
  const nodes: GraphNode[] = [];
  const sourceState = stats.backpressure === 'fetch-blocked' ? 'blocked' : 'ok';
  nodes.push({ id: 'source', label: stats.source, detail: `${rate(stats.recordsPerSecond)} · in flight ${stats.inFlight}/${stats.maxInFlight}`, state: sourceState, column: 0 });
  stats.operators.forEach((op, i) => {
    const open = op.openWindows === undefined ? '' : ` · ${op.openWindows} open`;
    nodes.push({ id: `op:${op.name}`, label: `${op.kind} ${op.name}`, detail: `${rate(op.recordsPerSecond)}${open}`, state: 'ok', column: 1 + i });
  });
  const sinkColumn = 1 + stats.operators.length;
  for (const sink of stats.sinks) {
    nodes.push({ id: `sink:${sink.name}`, label: sink.name, detail: `${sink.output} · ${rate(sink.rowsPerSecond)}`, state: sink.full ? 'blocked' : 'ok', column: sinkColumn });
  }
  const rows = new Map<number, number>();
  const position = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const row = rows.get(node.column) ?? 0;
    rows.set(node.column, row + 1);
    position.set(node.id, { x: 10 + node.column * (NODE_W + GAP_X), y: 10 + row * (NODE_H + GAP_Y) });
  }
  const height = 20 + Math.max(...rows.values()) * (NODE_H + GAP_Y);
  const width = 20 + (sinkColumn + 1) * (NODE_W + GAP_X) - GAP_X;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));
  svg.replaceChildren();

  const chain = ['source', ...stats.operators.map((op) => `op:${op.name}`)];
  const edges: Array<[string, string]> = chain.slice(1).map((id, i) => [chain[i]!, id]);
  const last = chain[chain.length - 1]!;
  for (const sink of stats.sinks) edges.push([sink.output === 'raw' || sink.output === 'deadLetter' ? 'source' : last, `sink:${sink.name}`]);
  for (const [from, to] of edges) {
    const a = position.get(from)!;
    const b = position.get(to)!;
    const path = document.createElementNS(SVG, 'path');
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    path.setAttribute('d', `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`);
    path.setAttribute('class', 'edge');
    svg.append(path);
  }
  for (const node of nodes) {
    const { x, y } = position.get(node.id)!;
    const group = document.createElementNS(SVG, 'g');
    group.setAttribute('class', `node ${node.state}`);
    group.setAttribute('data-node', node.id);
    const rect = document.createElementNS(SVG, 'rect');
    Object.entries({ x, y, width: NODE_W, height: NODE_H, rx: 6 }).forEach(([k, v]) => rect.setAttribute(k, String(v)));
    const title = document.createElementNS(SVG, 'text');
    title.setAttribute('x', String(x + 10));
    title.setAttribute('y', String(y + 19));
    title.textContent = node.label.length > 26 ? `${node.label.slice(0, 25)}…` : node.label;
    const detail = document.createElementNS(SVG, 'text');
    detail.setAttribute('x', String(x + 10));
    detail.setAttribute('y', String(y + 36));
    detail.setAttribute('class', 'detail');
    detail.textContent = node.detail;
    group.append(rect, title, detail);
    svg.append(group);
  }
}
