/** The soak's chart: RSS (MiB) and open windows over minutes, as a standalone SVG (and a PNG of it). */
import { chromium } from 'playwright-core';
export interface SoakSample {
  minutes: number;
  rssMb: number;
  heapUsedMb: number;
  /** V8's committed heap (used plus the free space it keeps) and memory outside it (Buffers), MiB. */
  heapTotalMb?: number;
  externalMb?: number;
  openWindows: number;
  lagRecords: number;
  produced: number;
}

/** Least-squares slope of y over minutes (per minute); NaN with fewer than two samples. */
export function slopePerMinute(samples: readonly SoakSample[], y: (sample: SoakSample) => number): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const mx = samples.reduce((sum, s) => sum + s.minutes, 0) / n;
  const my = samples.reduce((sum, s) => sum + y(s), 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.minutes - mx) * (y(s) - my);
    den += (s.minutes - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

export function soakSvg(samples: readonly SoakSample[], title: string): string {
  const width = 900;
  const height = 420;
  const pad = { left: 70, right: 80, top: 40, bottom: 50 };
  const maxX = Math.max(1, ...samples.map((s) => s.minutes));
  const maxRss = Math.max(1, ...samples.map((s) => s.rssMb)) * 1.1;
  const maxWindows = Math.max(1, ...samples.map((s) => s.openWindows)) * 1.1;
  const x = (m: number) => pad.left + (m / maxX) * (width - pad.left - pad.right);
  const y = (v: number, max: number) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const line = (value: (s: SoakSample) => number, max: number) => samples.map((s, i) => `${i === 0 ? 'M' : 'L'}${x(s.minutes).toFixed(1)},${y(value(s), max).toFixed(1)}`).join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
    ...ticks.map((t) => `<text x="${pad.left - 8}" y="${y(t * maxRss, maxRss) + 4}" text-anchor="end" fill="#1f77b4">${Math.round(t * maxRss)}</text>`),
    ...ticks.map((t) => `<text x="${width - pad.right + 8}" y="${y(t * maxWindows, maxWindows) + 4}" fill="#d62728">${Math.round(t * maxWindows)}</text>`),
    ...ticks.map((t) => `<text x="${x(t * maxX)}" y="${height - pad.bottom + 18}" text-anchor="middle">${(t * maxX).toFixed(1)}</text>`),
    `<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#888"/>`,
    `<text x="${width / 2}" y="${height - 12}" text-anchor="middle">minutes</text>`,
    `<text x="16" y="${height / 2}" transform="rotate(-90 16 ${height / 2})" text-anchor="middle" fill="#1f77b4">engine RSS (MiB)</text>`,
    `<text x="${width - 16}" y="${height / 2}" transform="rotate(90 ${width - 16} ${height / 2})" text-anchor="middle" fill="#d62728">open windows</text>`,
    `<path d="${line((s) => s.rssMb, maxRss)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    `<path d="${line((s) => s.openWindows, maxWindows)}" fill="none" stroke="#d62728" stroke-width="2"/>`,
    '</svg>',
  ].join('\n');
}

/** Screenshots the SVG with Debian's chromium (CHROMIUM_PATH), as the dashboard's browser test does. */
export async function renderPng(svg: string, file: string): Promise<void> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 420 } });
    await page.setContent(`<body style="margin:0">${svg}</body>`);
    await page.screenshot({ path: file });
  } finally {
    await browser.close();
  }
}
