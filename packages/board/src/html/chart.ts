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
  const scale = Math.max(...shown.map((l) => Math.max(l.realtimeEquivalent, l.cost)), 1e-9);
  const plot = WIDTH - LABEL - AMOUNT;
  const height = TOP + shown.length * ROW + 4;
  const rows = shown.map((l, i) => {
    const y = TOP + i * ROW;
    const wList = Math.max(1, (l.realtimeEquivalent / scale) * plot);
    const wPaid = Math.max(1, (l.cost / scale) * plot);
    const pct = l.realtimeEquivalent > 0 ? Math.round((l.savings / l.realtimeEquivalent) * 100) : 0;
    const label = l.key.length > 22 ? `${l.key.slice(0, 21)}…` : l.key;
    return html`<g class="chart-row" data-key="${l.key}">
      <title>${l.key}: paid ${usd(l.cost)}, real-time equivalent ${usd(l.realtimeEquivalent)}, saved ${usd(l.savings)} (${pct} %)</title>
      <text class="chart-label" x="${LABEL - 8}" y="${y + BAR + 2}" text-anchor="end">${label}</text>
      <rect class="bar bar-list" x="${LABEL}" y="${y}" width="${wList.toFixed(1)}" height="${BAR}" rx="2"></rect>
      <text class="chart-amount" x="${LABEL + wList + 6}" y="${y + BAR - 2}">${usd(l.realtimeEquivalent)}</text>
      <rect class="bar bar-paid" x="${LABEL}" y="${y + BAR + 3}" width="${wPaid.toFixed(1)}" height="${BAR}" rx="2"></rect>
      <text class="chart-amount paid" x="${LABEL + wPaid + 6}" y="${y + 2 * BAR + 1}">${usd(l.cost)}${pct ? ` (−${pct} %)` : ''}</text>
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
