import type { Logger, ResultPayload } from '@nightshift/shared';

/** What a usage line is made of (a result payload has it all; this keeps only the small parts). */
export type UsageSource = Pick<ResultPayload, 'feature' | 'model' | 'mode' | 'usage' | 'cost'>;

/**
 * One usage line per succeeded result, in the same shape for batch and real-time work, so a cost
 * dashboard can put both side by side:
 * `{ event: 'usage', feature, model, batch, input_tokens, cache_write_5m, cache_write_1h, cache_read,
 *    output_tokens, cost_usd, realtime_equivalent_usd }`, plus `inference_geo: 'us', us_premium_usd`
 * when the API ran the request US-only (billed at 1.1×).
 */
export function logUsage(log: Logger, p: UsageSource): void {
  log.info({
    event: 'usage',
    feature: p.feature,
    model: p.model,
    batch: p.mode === 'batch',
    input_tokens: p.usage.input,
    cache_write_5m: p.usage.cacheWrite5m,
    cache_write_1h: p.usage.cacheWrite1h,
    cache_read: p.usage.cacheRead,
    output_tokens: p.usage.output,
    cost_usd: p.cost.cost,
    realtime_equivalent_usd: p.cost.realtimeEquivalent,
    ...(p.cost.usInference ? { inference_geo: 'us', us_premium_usd: p.cost.usPremium } : {}),
  });
}
