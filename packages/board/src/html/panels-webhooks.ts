import { WEBHOOK_EVENTS } from '@nightshift/shared';
import { duration, html, int, type Raw, utc } from './format.js';
import { actionForm, type View } from './panels-ops.js';

/** Webhook endpoints with their health, failed deliveries with Replay, and the register form. */
export function webhooksPanel({ o, csrf }: View): Raw {
  const w = o.webhooks;
  const canAct = !o.readOnly;
  const backlog = w.backlog
    ? html`<div class="banner banner-warn" data-testid="webhook-backlog">${int(w.backlog)} events wait to be fanned out: is a <code>nightshift-webhooks</code> process running?</div>`
    : '';
  const endpoints = w.endpoints.length
    ? html`<table class="grid" data-testid="webhook-endpoints">
      <thead><tr><th>endpoint</th><th>URL</th><th>events</th><th>filter</th><th>state</th><th>last success</th><th class="num">failed</th>${canAct ? html`<th></th>` : ''}</tr></thead>
      <tbody>${w.endpoints.map(
        (e) => html`<tr class="${e.enabled ? '' : 'row-bad'}" data-endpoint="${e.name}">
          <td class="mono">${e.name}</td><td class="mono small">${e.url}</td>
          <td class="small">${e.events.length === WEBHOOK_EVENTS.length ? 'all' : e.events.join(', ')}</td>
          <td class="small">${[e.features.join(','), e.partitions.join(','), e.requestOnly ? 'named by the request' : ''].filter(Boolean).join(' · ') || '—'}</td>
          <td>${e.enabled ? html`<span class="pill pill-ok">enabled</span>` : html`<span class="pill pill-bad">disabled: ${e.disabledReason ?? 'operator'}</span>`}
            ${e.health.failingSince ? html` <span class="muted small">failing for ${duration(o.now - e.health.failingSince)}</span>` : ''}</td>
          <td title="${utc(e.health.lastSuccess)}">${e.health.lastSuccess ? `${duration(o.now - e.health.lastSuccess)} ago` : 'never'}</td>
          <td class="num">${int(e.failed)}</td>
          ${
            canAct
              ? html`<td>${actionForm(`/api/webhooks/${encodeURIComponent(e.name)}/${e.enabled ? 'disable' : 'enable'}`, e.enabled ? 'Disable' : 'Enable', csrf, '')}
              ${e.failed ? actionForm(`/api/webhooks/${encodeURIComponent(e.name)}/replay`, `Replay ${e.failed}`, csrf, `Send the ${e.failed} failed deliveries to ${e.name} again?`) : ''}</td>`
              : ''
          }
        </tr>`,
      )}</tbody></table>`
    : html`<p class="empty">No webhook endpoint registered.</p>`;
  const failed = w.failed.total
    ? html`<h3>Failed deliveries <span class="muted small">${w.failed.items.length < w.failed.total ? `latest ${w.failed.items.length} of ${int(w.failed.total)}` : ''}</span></h3>
      <table class="grid compact" data-testid="webhook-failed">
      <thead><tr><th>endpoint</th><th>event</th><th>type</th><th class="num">attempts</th><th>why</th><th>failed</th>${canAct ? html`<th></th>` : ''}</tr></thead>
      <tbody>${w.failed.items.map(
        (
          f,
        ) => html`<tr><td class="mono">${f.endpoint}</td><td class="mono small">${f.eventId}</td><td>${f.type}</td>
          <td class="num">${f.attempts}</td><td class="small">${f.reason}</td><td title="${utc(f.failedAt)}">${duration(o.now - f.failedAt)} ago</td>
          ${canAct ? html`<td>${actionForm(`/api/webhooks/deliveries/${encodeURIComponent(f.jobId)}/replay`, 'Replay', csrf, '')}</td>` : ''}</tr>`,
      )}</tbody></table>`
    : '';
  return html`${backlog}${endpoints}${failed}`;
}

/** The register form (outside the refreshed fragment, so typing is never interrupted). */
export function registerForm({ o, csrf }: View): Raw {
  if (o.readOnly) return html``;
  return html`<details class="register"><summary>Register an endpoint</summary>
    <form method="post" action="/api/webhooks" class="register-form" data-testid="webhook-register">
      <input type="hidden" name="_csrf" value="${csrf}">
      <label>Name <input name="name" required pattern="[A-Za-z0-9_.\\-]{1,64}" placeholder="billing-prod"></label>
      <label>URL <input name="url" type="url" required placeholder="https://billing.example.com/hooks/nightshift"></label>
      <fieldset><legend>Events (none ticked: all)</legend>${WEBHOOK_EVENTS.map(
        (e) => html`<label class="inline"><input type="checkbox" name="event.${e}"> ${e}</label>`,
      )}</fieldset>
      <label>Features <input name="features" placeholder="all, or a,b"></label>
      <label>Partitions <input name="partitions" placeholder="all, or x,y"></label>
      <label class="inline"><input type="checkbox" name="requestOnly"> request events only for requests that name it</label>
      <button type="submit" class="btn">Register</button>
      <p class="muted small">The signing secret is shown once, on the next page. Private and loopback URLs are refused at delivery unless NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE is set.</p>
    </form></details>`;
}
