import type { ModelQualityStats } from '../runtime/stats-snapshot.ts';
import { LiveChart } from './charts.ts';

const COLORS = ['#58a6ff', '#3fb950', '#d29922', '#bc8cff', '#39c5cf', '#ff7b72', '#e3b341', '#a5d6ff', '#f778ba'];

/**
 * The served model's quality: PSI per model input and score over the closed drift buckets (a
 * line each, the 0.2 threshold dashed), the latest bucket's PSI and KS per input (red above the
 * threshold), and the outcome metrics per version and day that the outcomes job wrote.
 */
export class QualityPanel {
  private chart: LiveChart | null = null;
  private names: string[] = [];

  constructor(private readonly elements: { chart: HTMLElement; title: HTMLElement; drift: HTMLElement; outcomes: HTMLElement }) {}

  render(quality: readonly ModelQualityStats[] | undefined): void {
    const model = quality?.[0];
    if (model === undefined) {
      this.elements.title.textContent = 'no served model';
      return;
    }
    const latest = model.drift.at(-1);
    this.elements.title.textContent = model.live === null ? model.model : `${model.model}@${model.live}${model.driftWatched ? '' : ' · no baseline: drift not watched'}`;
    if (latest !== undefined) {
      const names = latest.features.map((f) => f.name);
      if (this.chart === null || names.join() !== this.names.join()) {
        this.elements.chart.replaceChildren();
        this.names = names;
        const lines = [...names, 'threshold'].map((label, i) => ({ label, color: label === 'threshold' ? '#f85149' : COLORS[i % COLORS.length]! }));
        this.chart = new LiveChart(this.elements.chart, lines, { yLabel: 'PSI', dashed: ['threshold'] });
      }
      const buckets = model.drift.filter((b) => b.features.length === names.length);
      this.chart.showColumns([
        buckets.map((b) => b.bucketEnd / 1000),
        ...names.map((_, i) => buckets.map((b) => b.features[i]!.psi)),
        buckets.map(() => model.driftThreshold),
      ]);
      this.elements.drift.replaceChildren(
        ...latest.features.map((f) => row([f.name, fixed(f.psi, 3), fixed(f.ks, 3)], (f.psi ?? 0) > model.driftThreshold ? 'high' : '')),
        row([`bucket ending ${new Date(latest.bucketEnd).toISOString().slice(11, 16)} UTC`, `${latest.rows} rows`, latest.version], 'note'),
      );
    }
    this.elements.outcomes.replaceChildren(
      ...(model.outcomes.length === 0
        ? [row(['no outcome metrics yet: tributary models outcomes <topology> computes them once labels arrive', '', '', '', '', '', '', ''], 'note')]
        : model.outcomes.slice(0, 14).map((o) => row([o.version, o.day, String(o.rows), String(o.positives), fixed(o.auc, 4), fixed(o.logLoss, 4), fixed(o.ece, 4), `${fixed(o.precisionAtK, 3)} @${o.k}`]))),
    );
  }
}

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

function row(cells: string[], className = ''): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.className = className;
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}
