import type { ResultPayload } from '@nightshift/shared';
import {
  ATTR,
  BUCKETS,
  defineCounter,
  defineHistogram,
  inSpan,
  linksTo,
  type Registry,
  SPANS,
  SpanKind,
} from '@nightshift/telemetry';

/** What happened to one result a job carried. */
type DeliveryOutcome = 'delivered' | 'failed' | 'skipped' | 'waiting';

/** The result worker's measurements: a no-op without a registry. */
export interface DeliveryInstruments {
  /** Counts one result's fate; `enqueuedAt` (ms) is the request's first enqueue, when known. */
  result(feature: string, outcome: DeliveryOutcome, enqueuedAt?: number): void;
  /** Times one handler call. */
  handler(feature: string, seconds: number): void;
}

const NONE: DeliveryInstruments = { result: () => undefined, handler: () => undefined };

/**
 * The result worker's metrics on the service's registry (bounded labels: feature, outcome):
 * results by outcome, the handler's duration and, per delivered result, the time since its
 * request was first enqueued.
 */
export function deliveryInstruments(registry: Registry | undefined): DeliveryInstruments {
  if (!registry) return NONE;
  const results = defineCounter(
    registry,
    'nightshift_result_worker_results_total',
    'Results the worker handed to the handler (delivered), whose handler threw (failed), that another job delivers (skipped), or that wait for their apply (waiting), by feature.',
    ['feature', 'outcome'],
  );
  const handler = defineHistogram(
    registry,
    'nightshift_result_worker_handler_duration_seconds',
    'Duration of one call of the service’s result handler, by feature.',
    BUCKETS.work,
    ['feature'],
  );
  const latency = defineHistogram(
    registry,
    'nightshift_result_worker_enqueue_to_delivery_seconds',
    'Time from a request’s first enqueue to its result handled by the service, by feature.',
    BUCKETS.enqueueToResult,
    ['feature'],
  );
  return {
    result(feature, outcome, enqueuedAt) {
      results.inc({ feature, outcome });
      if (outcome === 'delivered' && enqueuedAt && enqueuedAt > 0) {
        latency.observe({ feature }, Math.max(0, Date.now() - enqueuedAt) / 1000);
      }
    },
    handler: (feature, seconds) => handler.observe({ feature }, seconds),
  };
}

/**
 * Calls the handler for one result inside its delivery span, linked to the span that applied the
 * result (`trace` of the job), so a trace backend leads from the delivery back to the batch.
 */
export function deliverInSpan<T>(
  result: ResultPayload,
  job: { id?: string | undefined; data: { trace?: string } },
  fn: () => Promise<T>,
): Promise<T> {
  return inSpan(
    SPANS.deliver,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        [ATTR.customId]: result.customId,
        [ATTR.feature]: result.feature,
        [ATTR.model]: result.model,
        [ATTR.mode]: result.mode,
        [ATTR.attempt]: result.attempt,
        ...(result.batchId ? { [ATTR.batchId]: result.batchId } : {}),
        ...(job.id ? { [ATTR.jobId]: job.id } : {}),
      },
      links: linksTo(job.data.trace),
    },
    fn,
  );
}
