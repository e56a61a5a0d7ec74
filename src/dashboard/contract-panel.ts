import type { StatsSnapshot } from '../runtime/stats-snapshot.ts';
import { LiveChart } from './charts.ts';
import { Series } from './series.ts';

const COLORS = ['#f85149', '#d29922', '#a371f7', '#58a6ff', '#3fb950', '#db61a2', '#79c0ff', '#e3b341'];

/**
 * The data contract panel: violations per second of each rule (one line per rule, made once the
 * first snapshot names the rules) and a table of each rule's rate and total.
 */
export class ContractPanel {
  private chart: LiveChart | null = null;
  private series: Series | null = null;
  private rules: string[] = [];

  constructor(
    private readonly chartContainer: HTMLElement,
    private readonly table: HTMLElement,
  ) {}

  show(stats: StatsSnapshot): void {
    const rules = stats.contractViolations.map((entry) => entry.rule);
    if (rules.length === 0) {
      this.table.innerHTML = '<tr><td colspan="3">no data contract declared</td></tr>';
      return;
    }
    if (this.chart === null || rules.join('\n') !== this.rules.join('\n')) {
      this.chartContainer.replaceChildren();
      this.rules = rules;
      this.chart = new LiveChart(this.chartContainer, rules.map((rule, i) => ({ label: rule, color: COLORS[i % COLORS.length]! })), { yLabel: 'per second' });
      this.series = new Series(rules.length);
    }
    this.series!.push(stats.time / 1000, stats.contractViolations.map((entry) => entry.perSecond));
    this.chart.show(this.series!);
    this.table.replaceChildren(
      ...stats.contractViolations.map((entry) => {
        const row = document.createElement('tr');
        row.dataset.rule = entry.rule;
        if (entry.perSecond > 0) row.className = 'high';
        for (const text of [entry.rule, entry.perSecond.toFixed(2), entry.total.toLocaleString()]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      }),
    );
  }
}
