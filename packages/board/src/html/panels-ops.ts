import type { CircuitState } from '@nightshift/shared';
import { QUEUES } from '@nightshift/shared';
import type { BatchView, Overview, RoleLiveness } from '../data.js';
import { requestUrl } from '../requests-adapter.js';
import { bytes, duration, html, int, type Raw, usd, utc } from './format.js';

/** What every panel renderer gets. */
export interface View {
  o: Overview;
  csrf: string;
  days: number;
}

/** A request's page in Bull Board (the `requests` queue over the store). */
export const requestLink = (customId: string) =>
  html`<a class="mono" href="${requestUrl(customId)}" title="open in Bull Board">${customId}</a>`;

/** A batch's page in Bull Board: its tracking job in `{batches}`. */
const batchLink = (batchId: string) =>
  html`<a href="/queues/queue/${encodeURIComponent(QUEUES.batches)}/batch-${encodeURIComponent(batchId)}" title="open its tracking job in Bull Board">${batchId}</a>`;

const pill = (kind: 'ok' | 'bad' | 'warn' | 'idle', text: string, testId?: string) =>
  html`<span class="pill pill-${kind}"${testId ? html` data-testid="${testId}"` : ''}>${text}</span>`;

function roleState(r: RoleLiveness): { kind: 'ok' | 'bad'; text: string } {
  if (r.state === 'missing') return { kind: 'bad', text: 'NO HEARTBEAT' };
  if (r.state === 'late') return { kind: 'bad', text: `LATE ${duration(r.lastBeatAgeMs)}` };
  if (r.state === 'no-scheduler') return { kind: 'bad', text: 'NO SCHEDULER' };
  if (r.state === 'paused') return { kind: 'bad', text: 'QUEUE PAUSED' };
  return { kind: 'ok', text: 'OK' };
}

/** Header pills: the state of the pipeline in one line. */
export function statusPanel({ o }: View): Raw {
  const b = roleState(o.liveness.batcher);
  const c = roleState(o.liveness.collector);
  return html`
    <span class="status-item">Batcher ${pill(b.kind, b.text, 'batcher-state')}</span>
    <span class="status-item">Collector ${pill(c.kind, c.text, 'collector-state')}</span>
    <span class="status-item">Submissions ${o.circuit.open ? pill('bad', `STOPPED (${circuitLabel(o.circuit)})`, 'circuit-state') : pill('ok', 'flowing', 'circuit-state')}</span>
    <span class="status-item">Alerts ${o.alerts.length ? pill('bad', String(o.alerts.length), 'alert-count') : pill('ok', 'none', 'alert-count')}</span>
    <span class="status-item updated">updated ${utc(o.now)}</span>`;
}

/** The four numbers that answer "is it working?". */
export function summaryPanel({ o }: View): Raw {
  const inflightRequests = o.inflight.reduce((n, b) => n + b.requestCount, 0);
  const c = o.costs.totals;
  const pct = c.realtimeEquivalentUsd > 0 ? Math.round((c.savingsUsd / c.realtimeEquivalentUsd) * 100) : 0;
  return html`
    <div class="tile" data-testid="tile-waiting">
      <div class="tile-label">Requests waiting</div>
      <div class="tile-value">${int(o.waiting.total)}</div>
      <div class="tile-sub">${o.waiting.oldestAgeMs === null ? 'nothing queued' : `oldest ${duration(o.waiting.oldestAgeMs)}`}</div>
    </div>
    <div class="tile" data-testid="tile-inflight">
      <div class="tile-label">Batches in flight</div>
      <div class="tile-value">${int(o.inflight.length)}</div>
      <div class="tile-sub">${int(inflightRequests)} requests</div>
    </div>
    ${admissionTile(o)}
    <div class="tile${o.deadLetters.total ? ' tile-bad' : ''}" data-testid="tile-dead">
      <div class="tile-label">Dead letters</div>
      <div class="tile-value">${int(o.deadLetters.total)}</div>
      <div class="tile-sub">${o.deadLetters.total ? 'need a decision' : 'none'}</div>
    </div>
    <div class="tile tile-good" data-testid="tile-savings">
      <div class="tile-label">Saved, last ${o.costs.days} d</div>
      <div class="tile-value">${usd(c.savingsUsd)}</div>
      <div class="tile-sub">paid ${usd(c.costUsd)} of ${usd(c.realtimeEquivalentUsd)}${pct ? ` (−${pct} %)` : ''}</div>
    </div>`;
}

/** In flight at the API vs the batchers' cap; amber once full, with what the last flush held back. */
function admissionTile(o: Overview): Raw {
  const a = o.admission;
  const capped = a.cap !== null && a.cap > 0;
  const full = capped && a.inFlight >= a.cap!;
  const sub =
    a.cap === null
      ? 'no flush yet'
      : !capped
        ? 'no cap'
        : a.held > 0
          ? `of ${int(a.cap!)}; ${int(a.held)} held back`
          : `of ${int(a.cap!)} (${Math.round((a.inFlight / a.cap!) * 100)} %)`;
  return html`<div class="tile${full ? ' tile-warn' : ''}" data-testid="tile-admission">
      <div class="tile-label">At the API</div>
      <div class="tile-value">${int(a.inFlight)}</div>
      <div class="tile-sub">${sub}</div>
    </div>`;
}

function roleRow(r: RoleLiveness, workLabel: string, now: number): Raw {
  const s = roleState(r);
  const instances = r.instances.length
    ? r.instances
        .map(
          (i) =>
            `${i.instance} @ ${i.host} (pid ${i.pid})${i.late ? ` — silent ${duration(i.lastBeatAgeMs)}` : ''}`,
        )
        .join(', ')
    : 'none reporting';
  return html`<tr class="${s.kind === 'bad' ? 'row-bad' : ''}" data-testid="liveness-${r.role}">
    <th scope="row">${r.role}</th>
    <td>${pill(s.kind, s.text)}</td>
    <td>${r.lastBeatAgeMs === null ? 'never' : `${duration(r.lastBeatAgeMs)} ago`}</td>
    <td title="${r.lastWorkAt === null ? '' : utc(r.lastWorkAt)}">${r.lastWorkAt === null ? 'never' : `${duration(now - r.lastWorkAt)} ago`} <span class="muted small">${workLabel}</span></td>
    <td class="small">${instances}</td>
  </tr>`;
}

/** Batcher and collector liveness: red when a role has no heartbeat fresher than its threshold. */
export function livenessPanel({ o }: View): Raw {
  const live = o.liveness;
  return html`<table class="grid">
    <thead><tr><th>role</th><th>state</th><th>last heartbeat</th><th>last work</th><th>instances</th></tr></thead>
    <tbody>${roleRow(live.batcher, 'flush', o.now)}${roleRow(live.collector, 'poll', o.now)}</tbody>
  </table>
  <p class="muted small">Red when the freshest heartbeat is older than ${duration(live.batcher.staleAfterMs)} (batcher)
    or ${duration(live.collector.staleAfterMs)} (collector), when no process of the role has ever reported, when the
    scheduler that gives it work (<code>flush-tick</code>, <code>collect-tick</code>) is gone (restart a process of the role:
    it puts it back) or when its queue is paused in Bull Board.</p>`;
}

/** The batcher's latest flush records (format owned by the batcher: shown field by field). */
export function flushesPanel({ o }: View): Raw {
  const flushes = o.liveness.flushes.slice(0, 6);
  if (!flushes.length) return html`<p class="empty">No flush recorded yet.</p>`;
  const skip = new Set(['at']);
  return html`<ul class="flushes">${flushes.map((f) => {
    const at = typeof f.at === 'number' ? f.at : null;
    const fields = Object.entries(f)
      .filter(([k, v]) => !skip.has(k) && v !== undefined && v !== '' && v !== null)
      .map(
        ([k, v]) =>
          html` <span class="muted">${k}</span> ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
      );
    return html`<li><strong>${at === null ? '' : `${duration(o.now - at)} ago`}</strong>${fields}</li>`;
  })}</ul>`;
}

/** What stopped submissions, in a few words: `account refused: organization_on_hold`. */
const circuitLabel = (c: Extract<CircuitState, { open: true }>) =>
  `${c.kind === 'billing' ? 'billing / spend limit' : 'account refused'}: ${c.code}`;

/** Alerts raised by the collector, batcher and producer, and the circuit breaker. */
export function alertsPanel({ o }: View): Raw {
  const c = o.circuit;
  const circuit = c.open
    ? html`<div class="banner banner-bad" data-testid="circuit-open"><strong>Submissions stopped (${circuitLabel(c)}).</strong>
        <span data-testid="circuit-reason">${c.reason}</span>
        <div><strong>Fix:</strong> <span data-testid="circuit-fix">${c.fix}</span></div>
        <div class="small">Requests stay queued; nothing is dead-lettered. Since ${utc(c.since)}; next probe (one create) ${utc(c.until)}${c.opens > 1 ? ` after ${c.opens - 1} refused probe(s)` : ''}. Close with <code>nightshift circuit close</code> once fixed.</div></div>`
    : '';
  if (!o.alerts.length) return html`${circuit}<p class="ok-line">No alerts.</p>`;
  return html`${circuit}<ul class="alerts">${o.alerts.map(
    (a) => html`<li class="alert" data-testid="alert"><span class="pill pill-bad">${a.code}</span>
      <span>${a.message}</span> <span class="muted small">since ${utc(a.since)} (${duration(o.now - a.since)})${a.batchId ? html` · batch <span class="mono">${a.batchId}</span>` : ''}</span></li>`,
  )}</ul>`;
}

/** Waiting requests per partition. */
export function waitingPanel({ o }: View): Raw {
  const w = o.waiting;
  if (!w.partitions.length) return html`<p class="empty">Nothing is waiting.</p>`;
  return html`<table class="grid">
    <thead><tr><th>partition</th><th class="num">waiting</th><th class="num">bytes</th><th class="num">oldest</th></tr></thead>
    <tbody>${w.partitions.map(
      (p) => html`<tr><td class="mono">${p.partition || '(default)'}</td><td class="num">${int(p.count)}</td>
        <td class="num">${bytes(p.bytes)}</td><td class="num">${duration(p.oldestAgeMs)}</td></tr>`,
    )}</tbody>
  </table>
  ${w.earliestDeadline === null ? '' : html`<p class="muted small">Earliest deadline ${utc(w.earliestDeadline)} (in ${duration(w.earliestDeadline - o.now)}).</p>`}`;
}

function countsText(b: BatchView): string {
  const order = ['processing', 'succeeded', 'errored', 'canceled', 'expired'];
  const keys = Object.keys(b.counts).sort((x, y) => {
    const ix = order.indexOf(x);
    const iy = order.indexOf(y);
    return (ix < 0 ? 99 : ix) - (iy < 0 ? 99 : iy);
  });
  return keys.map((k) => `${k} ${int(b.counts[k] ?? 0)}`).join(' · ') || '—';
}

function expiryCell(b: BatchView): Raw {
  if (b.expiresAt === null || b.expiresInMs === null) return html`<td>—</td>`;
  const past = b.expiresInMs < 0;
  const soon = !past && b.expiresInMs < 3 * 3_600_000;
  const cls = past ? 'bad' : soon ? 'warn' : '';
  return html`<td class="${cls}" title="${utc(b.expiresAt)}">${past ? `expired ${duration(-b.expiresInMs)} ago` : `in ${duration(b.expiresInMs)}`}</td>`;
}

/** Batches in flight (with a cancel action when allowed) and the latest batches. */
export function batchesPanel({ o, csrf }: View): Raw {
  const inflight = o.inflight.length
    ? html`<table class="grid" data-testid="inflight">
      <thead><tr><th>batch</th><th>partition</th><th class="num">requests</th><th>status</th><th>counts</th><th class="num">age</th><th>expires</th>${o.canCancel ? html`<th></th>` : ''}</tr></thead>
      <tbody>${o.inflight.map(
        (b) => html`<tr data-batch="${b.id}">
          <td class="mono">${batchLink(b.id)}${b.origin ? html` <span class="pill pill-idle">${b.origin}</span>` : ''}</td>
          <td class="mono">${b.partition || '(default)'}</td><td class="num">${int(b.requestCount)}</td>
          <td><span class="pill pill-${b.status === 'ended' ? 'ok' : b.status === 'canceling' ? 'warn' : 'idle'}">${b.status || b.state}</span></td>
          <td class="small">${countsText(b)}</td><td class="num">${duration(b.ageMs)}</td>${expiryCell(b)}
          ${o.canCancel ? html`<td>${actionForm(`/api/batches/${encodeURIComponent(b.id)}/cancel`, 'Cancel', csrf, `Cancel batch ${b.id}? Its unfinished requests come back as canceled and are requeued.`, 'btn-danger')}</td>` : ''}
        </tr>`,
      )}</tbody></table>`
    : html`<p class="empty">No batch in flight.</p>`;
  const recent = o.recent.length
    ? html`<table class="grid compact">
      <thead><tr><th>batch</th><th>state</th><th>status</th><th class="num">requests</th><th>counts</th><th>submitted</th><th>ended</th></tr></thead>
      <tbody>${o.recent.map(
        (
          b,
        ) => html`<tr><td class="mono">${batchLink(b.id)}</td><td>${b.state}${b.origin ? ` (${b.origin})` : ''}</td><td>${b.status}</td>
          <td class="num">${int(b.requestCount)}</td><td class="small">${countsText(b)}</td>
          <td title="${utc(b.submittedAt)}">${duration(b.ageMs)} ago</td><td>${b.endedAt === null ? '—' : utc(b.endedAt)}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="empty">No batches yet.</p>`;
  return html`${inflight}<h3>Recent batches</h3>${recent}`;
}

/** A POST form that works without JavaScript and is enhanced by the page script. */
export function actionForm(action: string, label: string, csrf: string, confirm: string, cls = ''): Raw {
  return html`<form method="post" action="${action}" class="action" data-action data-confirm="${confirm}">
    <input type="hidden" name="_csrf" value="${csrf}"><button type="submit" class="btn ${cls}">${label}</button></form>`;
}
