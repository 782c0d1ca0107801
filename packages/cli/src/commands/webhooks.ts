import { type DeliveryJobData, WEBHOOK_EVENTS } from '@nightshift/shared';
import { failedDeliveries, openQueue, replayDeliveries, WebhookEndpoints } from '@nightshift/store';
import { type CliContext, UsageError } from '../context.js';
import { ago, printRows } from '../format.js';

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

export interface WebhookFlags {
  events?: string | undefined;
  features?: string | undefined;
  partitions?: string | undefined;
  secret?: string | undefined;
  'request-only'?: boolean | undefined;
  job?: string | undefined;
  all?: boolean | undefined;
  limit: number;
}

/**
 * `nightshift webhooks add <name> <url> [--events …] [--features …] [--partitions …] [--request-only]
 * [--secret whsec_…]`, `list`, `remove|enable|disable <name>`, `failed [<name>]`,
 * `replay <name> | --all | --job <id>`. The secret is printed once, at `add`.
 */
export async function webhooks(ctx: CliContext, args: string[], flags: WebhookFlags): Promise<number> {
  const [action, name, url] = args;
  const endpoints = new WebhookEndpoints(ctx.store);
  const needName = () => {
    if (!name) throw new UsageError(`webhooks ${action} needs an endpoint name (see webhooks list)`);
    return name;
  };
  switch (action) {
    case 'add': {
      if (!name || !url)
        throw new UsageError(
          'webhooks add needs a name and a URL, e.g. webhooks add billing https://…/hooks',
        );
      const { endpoint, secret } = await endpoints.register({
        name,
        url,
        ...(flags.events ? { events: list(flags.events) } : {}),
        ...(flags.features ? { features: list(flags.features) } : {}),
        ...(flags.partitions ? { partitions: list(flags.partitions) } : {}),
        ...(flags.secret ? { secret: flags.secret } : {}),
        requestOnly: flags['request-only'] ?? false,
      });
      if (ctx.json) ctx.out(JSON.stringify({ ...endpoint, secret }, null, 2));
      else {
        ctx.out(`Endpoint ${endpoint.name} → ${endpoint.url} (${endpoint.events.join(', ')}).`);
        ctx.out(`Signing secret (shown this once; the receiver verifies with it):\n  ${secret}`);
      }
      return 0;
    }
    case 'list': {
      printRows(ctx, await endpoints.list(), (e) => ({
        name: e.name,
        url: e.url,
        events: e.events.length === WEBHOOK_EVENTS.length ? 'all' : e.events.join(','),
        filter: [e.features.join(','), e.partitions.join(','), e.requestOnly ? 'request-only' : '']
          .filter(Boolean)
          .join(' / '),
        state: e.enabled ? 'enabled' : `disabled (${e.disabledReason ?? 'operator'})`,
        failingSince: e.health.failingSince ? ago(e.health.failingSince) : '',
        lastSuccess: ago(e.health.lastSuccess),
      }));
      return 0;
    }
    case 'remove':
    case 'enable':
    case 'disable': {
      const n = needName();
      const ok =
        action === 'remove' ? await endpoints.remove(n) : await endpoints.setEnabled(n, action === 'enable');
      if (ctx.json) ctx.out(JSON.stringify({ ok }));
      else ctx.out(ok ? `Endpoint ${n}: ${action}d.` : `No endpoint named "${n}".`);
      return ok ? 0 : 1;
    }
    case 'failed':
    case 'replay':
      return deliveries(ctx, action, name, flags);
    default:
      throw new UsageError(
        `webhooks needs add, list, remove, enable, disable, failed or replay, got "${action ?? ''}"`,
      );
  }
}

async function deliveries(
  ctx: CliContext,
  action: 'failed' | 'replay',
  name: string | undefined,
  flags: WebhookFlags,
) {
  const q = openQueue<DeliveryJobData>('webhooks', ctx.redis, ctx.config.prefix);
  try {
    if (action === 'failed') {
      const rows = await failedDeliveries(q, { ...(name ? { endpoint: name } : {}), limit: flags.limit });
      printRows(ctx, rows, (r) => ({ ...r, failedAt: ago(r.failedAt) }));
      return 0;
    }
    if (!name && !flags.all && !flags.job) {
      throw new UsageError('webhooks replay needs an endpoint name, --job <id> or --all');
    }
    const n = await replayDeliveries(q, flags.job ? { jobIds: [flags.job] } : name ? { endpoint: name } : {});
    if (ctx.json) ctx.out(JSON.stringify({ replayed: n }));
    else ctx.out(`Replayed ${n} failed deliver${n === 1 ? 'y' : 'ies'}.`);
    return 0;
  } finally {
    await q.close();
  }
}
