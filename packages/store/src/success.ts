import {
  type AttemptRecord,
  costOf,
  jobIds,
  type Message,
  type PriceTable,
  type ResultPayload,
  tokensFromUsage,
  toNano,
} from '@nightshift/shared';
import type { ApplyItem } from './outcomes.js';

/**
 * Builds both halves of a success: the apply item (ledger figures) and the payload the service
 * receives. The same code serves batch results and the real-time path, so both are priced alike.
 */
export function buildSuccess(args: {
  customId: string;
  feature: string;
  metadata: unknown;
  model: string;
  message: Message;
  mode: 'batch' | 'realtime';
  batchId: string | null;
  attempt: number;
  prices: PriceTable;
  now?: number;
}): { item: Extract<ApplyItem, { action: 'success' }>; payload: ResultPayload } {
  const now = args.now ?? Date.now();
  // Bill the model that answered (the API reports it), falling back to the one requested.
  const model = args.message.model || args.model;
  const tokens = tokensFromUsage(args.message.usage);
  const cost = costOf(tokens, model, args.mode, args.prices, args.message.usage?.inference_geo);
  const entry: AttemptRecord = {
    attempt: args.attempt,
    batchId: args.batchId,
    outcome: 'succeeded',
    at: now,
  };
  return {
    item: {
      cid: args.customId,
      action: 'success',
      mode: args.mode,
      tokens,
      costNano: toNano(cost.cost),
      listNano: toNano(cost.realtimeEquivalent),
      ...(cost.usInference ? { usInference: true, usPremiumNano: toNano(cost.usPremium ?? 0) } : {}),
      entry,
      batchId: args.batchId,
      // A single-result job by default (the real-time path); the collector groups batch results.
      delivery: jobIds.result(args.customId),
    },
    payload: {
      customId: args.customId,
      feature: args.feature,
      metadata: args.metadata,
      model,
      message: args.message,
      usage: tokens,
      cost,
      batchId: args.batchId,
      attempt: args.attempt,
      mode: args.mode,
      completedAt: now,
    },
  };
}
