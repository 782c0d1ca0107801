import type { Alert, ModelLifecycle } from '@nightshift/shared';
import type { Store } from './store.js';

/** A model alert is raised again at most this often per process (it refreshes the alert's `at`). */
const REFRESH_MS = 3_600_000;
/** Models remembered per process; past it the memory starts over (a few extra raises, no growth). */
const MAX_REMEMBERED = 1_000;

/**
 * The board's model alerts: a deprecated model being enqueued, and a model whose results cost $0
 * because the price table lacks it. Raised at most once an hour per model and process, so a hot
 * enqueue path costs no Redis round trip; the collector's sweep clears one nobody raised for a day.
 */
export class ModelAlerts {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** A deprecated model was enqueued. Resolves true when the alert was written now (log it then). */
  deprecated(model: string, life: Extract<ModelLifecycle, { state: 'deprecated' }>): Promise<boolean> {
    const when = life.retiresOn ? ` and retires on ${life.retiresOn}` : '';
    const instead = life.replacement ? `move to ${life.replacement}` : 'move to an active model';
    return this.raise(
      'model-deprecated',
      model,
      `Model ${model} is deprecated${when}: ${instead} (enqueue refuses it once retired).`,
    );
  }

  /** A result of a model the price table lacks was counted at $0. */
  unpriced(model: string): Promise<boolean> {
    return this.raise(
      'model-unpriced',
      model,
      `Model ${model} has no price in the table: its results are counted at $0. Add it to NIGHTSHIFT_PRICING_FILE.`,
    );
  }

  private async raise(code: Alert['code'], model: string, message: string): Promise<boolean> {
    const key = `${code}:${model}`;
    const now = this.now();
    if (now - (this.last.get(key) ?? Number.NEGATIVE_INFINITY) < REFRESH_MS) return false;
    if (this.last.size >= MAX_REMEMBERED) this.last.clear();
    this.last.set(key, now);
    await this.store.alerts.raise({ code, model, message }, now);
    return true;
  }
}
