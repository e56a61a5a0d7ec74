import 'uplot/dist/uPlot.min.css';
import { STATS_CHANNEL, type StatsSnapshot } from '../runtime/stats-snapshot.ts';
import { LiveChart } from './charts.ts';
import { LiveFeed } from './live-feed.ts';
import { histogram, Series } from './series.ts';
import { renderTopology } from './topology-graph.ts';
import { TopKeys } from './top-keys.ts';
import { ContractPanel } from './contract-panel.ts';
import { QualityPanel } from './model-quality.ts';

/** Which channel carries scored items, and which fields hold the key and the score (?channel=&key=&score=). */
const params = new URLSearchParams(location.search);
const CHANNEL = params.get('channel') ?? 'fraud';
const KEY_FIELD = params.get('key') ?? 'cardId';
const SCORE_FIELD = params.get('score') ?? 'probability';

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;

const charts = {
  throughput: new LiveChart($('chart-throughput'), [{ label: 'records/s', color: '#58a6ff' }], { yLabel: 'records/s' }),
  latency: new LiveChart($('chart-latency'), [{ label: 'p50 s', color: '#3fb950' }, { label: 'p99 s', color: '#f85149' }], { yLabel: 'seconds' }),
  predictions: new LiveChart($('chart-predictions'), [{ label: 'model', color: '#58a6ff' }, { label: 'batch', color: '#a371f7' }, { label: 'fallback', color: '#d29922' }], { yLabel: 'per second' }),
  scores: new LiveChart($('chart-scores'), [{ label: 'predictions', color: '#bc8cff' }], { bars: true, time: false, yLabel: 'count' }),
};
const throughput = new Series(1);
const latency = new Series(2);
const predictionRate = new Series(3);
const recentScores: number[] = [];
const topKeys = new TopKeys(10);
const contracts = new ContractPanel($('chart-contracts'), $('contract-rules'));
const quality = new QualityPanel({ chart: $('chart-drift'), title: $('quality-model'), drift: $('drift-latest'), outcomes: $('outcomes') });
let predictionsThisSecond = { model: 0, batch: 0, fallback: 0 };

function setText(id: string, text: string): void {
  $(id).textContent = text;
}

function formatMs(ms: number | null): string {
  if (ms === null) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 10 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

function onStats(stats: StatsSnapshot): void {
  const t = stats.time / 1000;
  throughput.push(t, [stats.recordsPerSecond]);
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  // Processing latency (what the engine adds), not event-time lag: a demo's catch-up replay puts
  // its events minutes behind, which says nothing about how fast results reach this page.
  const processing = stats.processingLatencyMs ?? { p50: null, p99: null };
  latency.push(t, [seconds(processing.p50), seconds(processing.p99)]);
  charts.throughput.show(throughput);
  charts.latency.show(latency);
  setText('stat-throughput', `${Math.round(stats.recordsPerSecond).toLocaleString()}/s`);
  setText('stat-p50', formatMs(processing.p50));
  setText('stat-p99', formatMs(processing.p99));
  $('stat-p99').dataset.ms = processing.p99 === null ? '' : String(processing.p99);
  setText('stat-lag', formatMs(stats.latencyMs.p99));
  $('stat-lag').dataset.ms = stats.latencyMs.p99 === null ? '' : String(stats.latencyMs.p99);
  const stages = stats.stageLatencyMs ?? [];
  if (stages.length > 0) setText('latency-stages', `close path p99: ${stages.map((s) => `${s.stage} ${formatMs(s.p99)}`).join(' · ')}`);
  setText('stat-model', stats.models.join(', ') || '–');
  $('stat-model').title = stats.models.join(', ');
  setText('stat-dlq', stats.deadLetters.toLocaleString());
  setText('stat-late', stats.lateRecords.toLocaleString());
  setText('stat-lost', stats.recordsLost.toLocaleString());
  $('stat-lost').dataset.state = stats.recordsLost > 0 ? 'lost' : 'ok';
  setText('stat-watermark', formatMs(stats.watermarkLagMs));
  setText('stat-backpressure', stats.backpressure);
  $('stat-backpressure').dataset.state = stats.backpressure;
  renderTopology($<SVGSVGElement>('topology'), stats);
  contracts.show(stats);
  quality.render(stats.quality);
}

function onPrediction(item: unknown): void {
  if (typeof item !== 'object' || item === null) return;
  const record = item as Record<string, unknown>;
  const score = Number(record[SCORE_FIELD]);
  if (!Number.isFinite(score)) return;
  // 'batch': the model was unavailable and the key's latest batch prediction was served.
  if (record.source === 'fallback') predictionsThisSecond.fallback++;
  else if (record.source === 'batch') predictionsThisSecond.batch++;
  else predictionsThisSecond.model++;
  recentScores.push(score);
  if (recentScores.length > 5_000) recentScores.shift();
  topKeys.offer(String(record[KEY_FIELD] ?? '?'), score, record);
}

/** Once a second: the prediction rate point, the score histogram and the top-risk table. */
function everySecond(): void {
  predictionRate.push(Date.now() / 1000, [predictionsThisSecond.model, predictionsThisSecond.batch, predictionsThisSecond.fallback]);
  predictionsThisSecond = { model: 0, batch: 0, fallback: 0 };
  charts.predictions.show(predictionRate);
  const bins = 20;
  charts.scores.showBars(Array.from({ length: bins }, (_, i) => i / bins), histogram(recentScores, bins));
  topKeys.render($('top-keys'), KEY_FIELD, SCORE_FIELD);
}

setText('channel', CHANNEL);
const status = $('status');
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const feed = new LiveFeed(`${scheme}://${location.host}/ws`, (state, detail) => {
  status.dataset.state = state;
  setText('status-text', detail);
});
feed.subscribe(STATS_CHANNEL, (data) => onStats(data as StatsSnapshot), true);
feed.subscribe(CHANNEL, onPrediction);
feed.connect();
setInterval(everySecond, 1_000);
