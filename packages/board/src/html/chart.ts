import type { CostFigures } from '@nightshift/store';
import type { CostLine } from '../costs.js';
import { html, type Raw, usd } from './format.js';

const WIDTH = 560;
const LABEL = 150;
const AMOUNT = 78;
const ROW = 40;
const BAR = 13;
const TOP = 8;

/**
 * A horizontal bar chart: per line, what the same tokens cost at list (real-time) price beside what
 * was paid on the batch path. Inline SVG, no script, no library. At most `max` lines (largest first).
 */
export function costChart(lines: CostLine[], caption: string, max = 8): Raw {
  const shown = lines.slice(0, max);
  if (shown.length === 0) return html`<p class="empty">No results in this window yet.</p>`;
  const scale = Math.max(...shown.map((l) => Math.max(l.realtimeEquivalentUsd, l.costUsd)), 1e-9);
  const plot = WIDTH - LABEL - AMOUNT;
  const height = TOP + shown.length * ROW + 4;
  const rows = shown.map((l, i) => {
    const y = TOP + i * ROW;
    const wList = Math.max(1, (l.realtimeEquivalentUsd / scale) * plot);
    const wPaid = Math.max(1, (l.costUsd / scale) * plot);
    const pct = l.realtimeEquivalentUsd > 0 ? Math.round((l.savingsUsd / l.realtimeEquivalentUsd) * 100) : 0;
    const label = l.key.length > 22 ? `${l.key.slice(0, 21)}…` : l.key;
    return html`<g class="chart-row" data-key="${l.key}">
      <title>${l.key}: paid ${usd(l.costUsd)}, real-time equivalent ${usd(l.realtimeEquivalentUsd)}, saved ${usd(l.savingsUsd)} (${pct} %)</title>
      <text class="chart-label" x="${LABEL - 8}" y="${y + BAR + 2}" text-anchor="end">${label}</text>
      <rect class="bar bar-list" x="${LABEL}" y="${y}" width="${wList.toFixed(1)}" height="${BAR}" rx="2"></rect>
      <text class="chart-amount" x="${LABEL + wList + 6}" y="${y + BAR - 2}">${usd(l.realtimeEquivalentUsd)}</text>
      <rect class="bar bar-paid" x="${LABEL}" y="${y + BAR + 3}" width="${wPaid.toFixed(1)}" height="${BAR}" rx="2"></rect>
      <text class="chart-amount paid" x="${LABEL + wPaid + 6}" y="${y + 2 * BAR + 1}">${usd(l.costUsd)}${pct ? ` (−${pct} %)` : ''}</text>
    </g>`;
  });
  return html`<figure class="chart">
    <svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${caption}: batch cost versus real-time equivalent">
      ${rows}
    </svg>
    <figcaption>${caption}${lines.length > max ? ` (largest ${max} of ${lines.length})` : ''}</figcaption>
  </figure>`;
}

/** The legend shared by the cost charts. */
export const chartLegend = html`<div class="legend">
  <span><i class="swatch swatch-list"></i>real-time equivalent (list price)</span>
  <span><i class="swatch swatch-paid"></i>paid (batch price)</span>
</div>`;

/** Columns per UTC day: real-time equivalent beside what was paid (for the 7- and 30-day windows). */
export function dailyChart(days: (CostFigures & { day: string })[]): Raw {
  const width = 1120;
  const height = 130;
  const base = height - 22;
  const scale = Math.max(...days.map((d) => d.realtimeEquivalentUsd), 1e-9);
  const slot = (width - 20) / days.length;
  const bar = Math.max(2, Math.min(18, slot / 2 - 2));
  const labelEvery = days.length > 10 ? 5 : 1;
  const cols = days.map((d, i) => {
    const x = 10 + i * slot + slot / 2;
    const hList = (d.realtimeEquivalentUsd / scale) * (base - 8);
    const hPaid = (d.costUsd / scale) * (base - 8);
    const label = i % labelEvery === 0 || i === days.length - 1 ? d.day.slice(5) : '';
    return html`<g class="day" data-day="${d.day}"><title>${d.day}: paid ${usd(d.costUsd)} of ${usd(d.realtimeEquivalentUsd)} (${d.results} results)</title>
      <rect class="bar bar-list" x="${(x - bar - 1).toFixed(1)}" y="${(base - hList).toFixed(1)}" width="${bar.toFixed(1)}" height="${hList.toFixed(1)}"></rect>
      <rect class="bar bar-paid" x="${(x + 1).toFixed(1)}" y="${(base - hPaid).toFixed(1)}" width="${bar.toFixed(1)}" height="${hPaid.toFixed(1)}"></rect>
      ${label ? html`<text class="chart-amount" x="${x.toFixed(1)}" y="${height - 6}" text-anchor="middle">${label}</text>` : ''}</g>`;
  });
  return html`<figure class="chart chart-daily">
    <svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Cost per day: batch cost versus real-time equivalent">
      <line class="axis" x1="10" y1="${base}" x2="${width - 10}" y2="${base}"></line>${cols}
    </svg>
    <figcaption>Per day (UTC)</figcaption>
  </figure>`;
}
