import { html, type Raw, raw } from './format.js';
import { budgetsPanel, costsPanel, deadLettersPanel, requestsPanel } from './panels-data.js';
import {
  alertsPanel,
  batchesPanel,
  flushesPanel,
  livenessPanel,
  statusPanel,
  summaryPanel,
  type View,
  waitingPanel,
} from './panels-ops.js';
import { registerForm, webhooksPanel } from './panels-webhooks.js';
import { SCRIPT } from './script.js';
import { STYLE } from './style.js';

const FAVICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='7' fill='%2317202b'/%3E%3Cpath d='M20 7a10 10 0 1 0 6 16A8 8 0 0 1 20 7z' fill='%23f5c451'/%3E%3C/svg%3E";

/** Every part of the page the script refreshes, by id (`frag-<id>` in the DOM). */
const FRAGMENTS: Record<string, (v: View) => Raw> = {
  status: statusPanel,
  summary: summaryPanel,
  liveness: livenessPanel,
  alerts: alertsPanel,
  waiting: waitingPanel,
  batches: batchesPanel,
  flushes: flushesPanel,
  costs: costsPanel,
  budgets: budgetsPanel,
  'dead-letters': deadLettersPanel,
  requests: requestsPanel,
  webhooks: webhooksPanel,
};

/** The panels rendered alone, for the page script's refresh. */
export function renderFragments(view: View): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, render] of Object.entries(FRAGMENTS)) out[id] = render(view).value;
  return out;
}

const card = (id: string, title: string, body: Raw, extra: Raw | string = '') =>
  html`<section class="card" id="${id}" aria-labelledby="h-${id}"><h2 id="h-${id}">${title}${extra}</h2>
    <div id="frag-${id}">${body}</div></section>`;

/** The whole overview page. `notice` is a one-line message after a form action (no-JS path). */
export function renderPage(view: View, nonce: string, notice: string): string {
  const { o } = view;
  const mode = o.readOnly ? html` <span class="pill pill-idle">read-only</span>` : '';
  return `<!doctype html>${html`<html lang="en"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="csrf-token" content="${view.csrf}">
<title>Nightshift — overview</title>
<link rel="icon" href="${raw(FAVICON)}">
<noscript><meta http-equiv="refresh" content="30"></noscript>
<style nonce="${nonce}">${raw(STYLE)}</style>
</head><body data-days="${view.days}">
<header class="top">
  <h1>Nightshift <span>ops board</span>${mode}</h1>
  <nav><a href="/">Overview</a><a href="/queues">Queues (Bull Board)</a><a href="/metrics">Metrics</a></nav>
  <div id="frag-status">${statusPanel(view)}</div>
</header>
<main>
  <div id="notice" class="notice" role="status"${notice ? '' : raw(' hidden')}>${notice}</div>
  <div class="tiles" id="frag-summary">${summaryPanel(view)}</div>
  <div class="cols">
    ${card('liveness', 'Liveness', livenessPanel(view))}
    ${card('alerts', 'Alerts', alertsPanel(view))}
  </div>
  ${card('dead-letters', 'Dead letters', deadLettersPanel(view))}
  ${card('batches', 'Batches in flight', batchesPanel(view))}
  <div class="cols">
    ${card('waiting', 'Waiting, per partition', waitingPanel(view))}
    ${card('flushes', 'Latest flushes', flushesPanel(view))}
  </div>
  ${card('costs', 'Cost and savings', costsPanel(view))}
  ${card('budgets', 'Budgets', budgetsPanel(view))}
  ${card('requests', 'Queued requests', requestsPanel(view))}
  ${card('webhooks', 'Webhooks', webhooksPanel(view))}
  ${registerForm(view)}
</main>
<footer>Refreshes every 5 s. Times in UTC. JSON: /api/overview · /api/batches · /api/costs?days=7 · /api/budgets · /api/dead-letters · /api/requests · /api/webhooks</footer>
<script nonce="${nonce}">${raw(SCRIPT)}</script>
</body></html>`}`;
}
