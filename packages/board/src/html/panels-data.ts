import type { BudgetUsage } from '@nightshift/store';
import { COST_WINDOWS, type CostLine, costLines } from '../costs.js';
import { chartLegend, costChart, dailyChart } from './chart.js';
import { duration, html, int, type Raw, usd, utc } from './format.js';
import { actionForm, requestLink, type View } from './panels-ops.js';

/** A model's pills: no price, deprecated (with its retirement and replacement), retired. */
function modelPills(l: CostLine): Raw {
  const life = l.lifecycle;
  const instead = life?.replacement ? ` → ${life.replacement}` : '';
  return html`${l.unpriced ? html` <span class="pill pill-warn" title="no price in the table: cost counted as 0">unpriced</span>` : ''}${
    life?.state === 'deprecated'
      ? html` <span class="pill pill-warn" data-testid="model-deprecated" title="deprecated${life.retiresOn ? `, retires ${life.retiresOn}` : ''}${instead}">deprecated${life.retiresOn ? ` · retires ${life.retiresOn}` : ''}${instead}</span>`
      : life?.state === 'retired'
        ? html` <span class="pill pill-bad" title="retired ${life.retiresOn}${instead}">retired${instead}</span>`
        : ''
  }`;
}

function costTable(lines: CostLine[], what: string, testId: string): Raw {
  return html`<table class="grid compact" data-testid="${testId}">
    <thead><tr><th>${what}</th><th class="num">results</th><th class="num">paid</th><th class="num">real-time equiv.</th><th class="num">saved</th></tr></thead>
    <tbody>${lines.map(
      (l) => html`<tr><td class="mono">${l.key}${modelPills(l)}</td>
        <td class="num">${int(l.results)}${l.realtimeResults ? html` <span class="muted small">(${int(l.realtimeResults)} real-time)</span>` : ''}${l.usInferenceResults ? html` <span class="muted small" title="US-only inference, billed at 1.1×">(${int(l.usInferenceResults)} US-only)</span>` : ''}</td>
        <td class="num">${usd(l.costUsd)}</td><td class="num">${usd(l.realtimeEquivalentUsd)}</td><td class="num good">${usd(l.savingsUsd)}</td></tr>`,
    )}</tbody></table>`;
}

/** Cost and savings per feature and per model, with the charts, for the chosen window. */
export function costsPanel({ o, days }: View): Raw {
  const c = o.costs;
  const picker = html`<nav class="windows" aria-label="cost window">${COST_WINDOWS.map((d) =>
    d === days
      ? html`<span class="window current" aria-current="true">${d === 1 ? 'last day' : `${d} days`}</span>`
      : html`<a class="window" href="/?days=${d}#costs">${d === 1 ? 'last day' : `${d} days`}</a>`,
  )}</nav>`;
  const head = html`<div class="costs-head">${picker}
    <p class="costs-total">${c.from === c.to ? c.from : `${c.from} → ${c.to}`} (UTC): paid <strong>${usd(c.totals.costUsd)}</strong>
    for work worth <strong>${usd(c.totals.realtimeEquivalentUsd)}</strong> at list price — saved <strong class="good">${usd(c.totals.savingsUsd)}</strong>
    on ${int(c.totals.results)} results.${
      c.totals.usInferenceResults
        ? html` <span data-testid="costs-us-inference">${int(c.totals.usInferenceResults)} ran US-only (inference_geo "us", 1.1×): ${usd(c.totals.usPremiumUsd)} of the cost.</span>`
        : ''
    }</p></div>`;
  if (c.totals.results === 0) return html`${head}<p class="empty">No results in this window yet.</p>`;
  return html`${head}${chartLegend}${c.days > 1 ? dailyChart(c.byDay) : ''}
    <div class="two-col">
      <div>${costChart(costLines(c, 'feature'), 'Per feature')}${costTable(costLines(c, 'feature'), 'feature', 'costs-feature')}</div>
      <div>${costChart(costLines(c, 'model'), 'Per model')}${costTable(costLines(c, 'model'), 'model', 'costs-model')}</div>
    </div>`;
}

const BUDGET_BAR = 240;

/** One budget's bar: spent, then reserved, then what remains, out of its limit (inline SVG). */
function budgetBar(b: BudgetUsage): Raw {
  const scale = Math.max(b.limitUsd, b.spent + b.reserved, 1e-12);
  const wSpent = (b.spent / scale) * BUDGET_BAR;
  const wReserved = (b.reserved / scale) * BUDGET_BAR;
  return html`<svg class="budget-bar" viewBox="0 0 ${BUDGET_BAR} 12" width="${BUDGET_BAR}" height="12" role="img"
    aria-label="${usd(b.spent)} spent, ${usd(b.reserved)} reserved, ${usd(b.remaining)} remaining of ${usd(b.limitUsd)}">
    <rect class="bar bar-left" x="0" y="0" width="${BUDGET_BAR}" height="12" rx="2"></rect>
    <rect class="bar bar-paid" x="0" y="0" width="${wSpent.toFixed(1)}" height="12"></rect>
    <rect class="bar bar-reserved" x="${wSpent.toFixed(1)}" y="0" width="${wReserved.toFixed(1)}" height="12"></rect>
  </svg>`;
}

/** Spend budgets: per budget its window's bar of spent, reserved and remaining (ARCHITECTURE.md "Budgets"). */
export function budgetsPanel({ o }: View): Raw {
  if (o.budgets.length === 0)
    return html`<p class="empty">No budgets. <span class="mono">nightshift budget set &lt;feature&gt; 50/day</span> adds one.</p>`;
  return html`<div class="legend">
      <span><i class="swatch swatch-paid"></i>spent (settled)</span>
      <span><i class="swatch swatch-reserved"></i>reserved (submitted, not final)</span>
      <span><i class="swatch swatch-left"></i>remaining</span>
    </div>
    <table class="grid" data-testid="budgets">
    <thead><tr><th>budget</th><th>scope</th><th>mode</th><th></th><th class="num">spent</th><th class="num">reserved</th><th class="num">remaining</th><th class="num">limit</th><th class="num" title="estimates of its queued requests, not claimed yet">queued</th><th>resets</th></tr></thead>
    <tbody>${o.budgets.map((b) => {
      const used = b.limitUsd > 0 ? (b.spent + b.reserved) / b.limitUsd : 1;
      const cls = used >= 1 ? 'row-bad' : used >= b.alertAt ? 'row-warn' : '';
      const scope = [b.feature ? `feature ${b.feature}` : '', b.partition ? `partition ${b.partition}` : '']
        .filter(Boolean)
        .join(', ');
      return html`<tr class="${cls}" data-budget="${b.id}"><td class="mono">${b.id}</td><td>${scope || 'every request'}</td><td>${b.mode}</td>
        <td>${budgetBar(b)}</td><td class="num">${usd(b.spent)}</td><td class="num">${usd(b.reserved)}</td>
        <td class="num">${usd(b.remaining)}</td><td class="num">${usd(b.limitUsd)}</td><td class="num muted">${usd(b.queued)}</td><td title="${utc(b.resetsAt)}">in ${duration(b.resetsAt - o.now)}</td></tr>`;
    })}</tbody></table>`;
}

/** Dead letters with Retry (one) and Retry all. */
export function deadLettersPanel({ o, csrf }: View): Raw {
  const d = o.deadLetters;
  if (!d.total) return html`<p class="ok-line">No dead letters.</p>`;
  const canAct = !o.readOnly;
  const all = canAct
    ? actionForm(
        '/api/dead-letters/retry-all',
        `Retry all ${int(d.total)}`,
        csrf,
        `Send all ${d.total} dead-lettered requests back to the queue with a fresh attempt budget?`,
      )
    : '';
  return html`<div class="panel-actions">${all}<span class="muted small">${d.items.length < d.total ? `showing the oldest ${d.items.length} of ${int(d.total)}` : ''}</span></div>
    <table class="grid" data-testid="dead-letters">
    <thead><tr><th>custom_id</th><th>feature</th><th>reason</th><th>last error</th><th class="num">attempts</th><th>dead since</th>${canAct ? html`<th></th>` : ''}</tr></thead>
    <tbody>${d.items.map(
      (x) => html`<tr data-dead="${x.customId}">
        <td>${requestLink(x.customId)}</td><td>${x.feature}</td><td>${x.reason}</td>
        <td class="small">${x.lastError ? `${x.lastError.type}: ${x.lastError.message}` : '—'}</td>
        <td class="num">${x.attempts}</td><td title="${utc(x.deadAt)}">${x.deadAt === null ? '—' : `${duration(o.now - x.deadAt)} ago`}</td>
        ${canAct ? html`<td>${actionForm(`/api/dead-letters/${encodeURIComponent(x.jobId)}/retry`, 'Retry', csrf, '')}</td>` : ''}
      </tr>`,
    )}</tbody></table>`;
}

/** The oldest queued requests, each linked to its page in Bull Board. */
export function requestsPanel({ o }: View): Raw {
  const r = o.requests;
  if (!r.items.length) return html`<p class="empty">Nothing is waiting.</p>`;
  return html`<p class="muted small">The oldest ${r.items.length} of ${int(r.total)} waiting requests, oldest group first.
    Every request, in every state, is in Bull Board's <a href="/queues/queue/requests">requests</a> queue; a custom_id opens its page there.</p>
    <table class="grid compact" data-testid="requests">
    <thead><tr><th>custom_id</th><th>feature</th><th>model</th><th>partition</th><th class="num">attempt</th><th class="num">age</th><th>ready</th><th>deadline</th></tr></thead>
    <tbody>${r.items.map(
      (q) => html`<tr><td>${requestLink(q.customId)}</td><td>${q.feature}</td><td class="mono">${q.model}</td>
        <td class="mono">${q.partition || '(default)'}</td><td class="num">${q.attempt}</td><td class="num">${duration(q.ageMs)}</td>
        <td>${q.readyAt !== null && q.readyAt > o.now ? `in ${duration(q.readyAt - o.now)}` : 'now'}</td>
        <td>${q.deadline === null ? '—' : utc(q.deadline)}</td></tr>`,
    )}</tbody></table>`;
}
