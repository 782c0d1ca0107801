import type { Logger, ResultPayload } from '@nightshift/shared';

/** What a usage line is made of (a result payload has it all; this keeps only the small parts). */
export type UsageSource = Pick<ResultPayload, 'feature' | 'model' | 'mode' | 'usage' | 'cost'>;

/**
 * One usage line per succeeded result, in the same shape for batch and real-time work, so a cost
 * dashboard can put both side by side:
 * `{ event: 'usage', feature, model, batch, inputTokens, cacheWrite5m, cacheWrite1h, cacheRead,
 *    outputTokens, costUsd, realtimeEquivalentUsd }`, plus `inferenceGeo: 'us', usPremiumUsd`
 * when the API ran the request US-only (billed at 1.1×).
 */
export function logUsage(log: Logger, p: UsageSource): void {
  log.info({
    event: 'usage',
    feature: p.feature,
    model: p.model,
    batch: p.mode === 'batch',
    inputTokens: p.usage.input,
    cacheWrite5m: p.usage.cacheWrite5m,
    cacheWrite1h: p.usage.cacheWrite1h,
    cacheRead: p.usage.cacheRead,
    outputTokens: p.usage.output,
    costUsd: p.cost.cost,
    realtimeEquivalentUsd: p.cost.realtimeEquivalent,
    ...(p.cost.usInference ? { inferenceGeo: 'us', usPremiumUsd: p.cost.usPremium } : {}),
  });
}
