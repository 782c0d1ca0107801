import {
  type Attributes,
  isSpanContextValid,
  type Link,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { VERSION } from './metrics.js';

/**
 * The spans Nightshift makes, one per step of a request's way (ARCHITECTURE.md "Metrics and traces"). Each
 * step that hands work to another process stores its span's context next to the work (the
 * `{batches}` job keeps the create span's, a `{results}` job the apply span's), and the next
 * step's span links to it: from a delivery one follows its links back to the apply, the poll
 * that found the batch ended, and the create and flush that made the batch.
 */
export const SPANS = Object.freeze({
  flush: 'nightshift.flush',
  create: 'nightshift.batch.create',
  poll: 'nightshift.batch.poll',
  apply: 'nightshift.results.apply',
  deliver: 'nightshift.result.deliver',
});

/** Attribute names on Nightshift's spans. */
export const ATTR = Object.freeze({
  customId: 'nightshift.custom_id',
  batchId: 'nightshift.batch_id',
  submissionId: 'nightshift.submission_id',
  feature: 'nightshift.feature',
  model: 'nightshift.model',
  partition: 'nightshift.partition',
  reason: 'nightshift.flush.reason',
  trigger: 'nightshift.flush.trigger',
  result: 'nightshift.flush.result',
  requests: 'nightshift.request_count',
  bytes: 'nightshift.bytes',
  outcome: 'nightshift.outcome',
  errorFamily: 'nightshift.error.family',
  errorCode: 'nightshift.error.code',
  status: 'nightshift.batch.status',
  lines: 'nightshift.results.lines',
  mode: 'nightshift.result.mode',
  attempt: 'nightshift.attempt',
  jobId: 'nightshift.job_id',
});

/**
 * The tracer of the globally registered provider. Without one (the default) every span is a
 * no-op that records nothing and costs next to nothing.
 */
export function tracer() {
  return trace.getTracer('nightshift', VERSION);
}

/** What a span starts with. */
export interface SpanStart {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
}

/**
 * Runs `fn` inside a new active span (its children, the SDK's own spans among them, nest under it
 * when a context manager is registered, as `@opentelemetry/sdk-node` does). A throw is recorded
 * on the span, which then ends with status ERROR; the error is rethrown.
 */
export function inSpan<T>(name: string, start: SpanStart, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, start, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      // BullMQ's DelayedError is control flow (a job re-delayed itself), not a failure.
      if (e.name !== 'DelayedError') {
        span.recordException(e);
        span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      }
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The W3C `traceparent` of a span, or undefined when it is a no-op (nothing is traced). */
export function traceparentOf(span: Span | undefined): string | undefined {
  const c = span?.spanContext();
  if (!c || !isSpanContextValid(c)) return undefined;
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags & 1 ? '01' : '00'}`;
}

/** The `traceparent` of the active span (see {@link traceparentOf}). */
export function activeTraceparent(): string | undefined {
  return traceparentOf(trace.getActiveSpan());
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A link to the span a stored `traceparent` names; none when it is absent or malformed. */
export function linksTo(traceparent: string | undefined): Link[] {
  const m = TRACEPARENT.exec(traceparent ?? '');
  if (!m) return [];
  const context: SpanContext = {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: Number.parseInt(m[3]!, 16),
    isRemote: true,
  };
  return isSpanContextValid(context) ? [{ context }] : [];
}

export { type Span, SpanKind, SpanStatusCode };
