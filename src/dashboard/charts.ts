import uPlot from 'uplot';
import type { Series } from './series.ts';

const AXIS = { stroke: '#8b949e', grid: { stroke: '#21262d' }, ticks: { stroke: '#30363d' } };

export interface LineSpec {
  label: string;
  color: string;
}

/**
 * A live uPlot chart in `container`. It records how many points it shows in the container's
 * `data-points` attribute, so a browser test can check that every chart received data.
 */
export class LiveChart {
  private readonly plot: uPlot;

  constructor(
    private readonly container: HTMLElement,
    lines: readonly LineSpec[],
    options: { bars?: boolean; time?: boolean; yLabel?: string; dashed?: string[] } = {},
  ) {
    const bars = options.bars ? uPlot.paths.bars!({ size: [0.9, 40] }) : undefined;
    this.plot = new uPlot(
      {
        width: Math.max(280, container.clientWidth - 8),
        height: 180,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: options.time ?? true } },
        axes: [{ ...AXIS }, { ...AXIS, label: options.yLabel, size: 56 }],
        series: [{}, ...lines.map((line) => ({ label: line.label, stroke: line.color, width: 2, fill: options.bars ? `${line.color}88` : undefined, paths: bars, points: { show: false }, dash: options.dashed?.includes(line.label) ? [6, 4] : undefined }))],
      },
      [[], ...lines.map(() => [])],
      container,
    );
    container.dataset.points = '0';
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(280, container.clientWidth - 8), height: 180 })).observe(container);
  }

  show(series: Series): void {
    this.plot.setData(series.data() as uPlot.AlignedData);
    this.container.dataset.points = String(series.length);
  }

  /** Columns as uPlot takes them: x values, then one array per line. */
  showColumns(columns: [number[], ...Array<Array<number | null>>]): void {
    this.plot.setData(columns as uPlot.AlignedData);
    this.container.dataset.points = String(columns[0].length);
  }

  /** Bars over categories (x = 0..n-1), e.g. a histogram. */
  showBars(xs: number[], counts: number[]): void {
    this.plot.setData([xs, counts]);
    this.container.dataset.points = String(counts.reduce((sum, n) => sum + n, 0));
  }
}
