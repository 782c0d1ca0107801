import { modelLifecycle, type PriceTable, priceFor, type RetiredModel } from '@nightshift/shared';

type At = (field: string, message: string) => void;

/** What the model checks need: the price table (it carries each model's lifecycle) and the clock. */
export interface ModelCheckContext {
  prices: PriceTable;
  /** The time of the call (ms), which decides whether a model is deprecated or retired. */
  now: number;
  /** Collects the retired models a call names (for ModelRetiredError). */
  retired?: RetiredModel[];
}

/**
 * What the docs say a model refuses, checked before anything is written instead of coming back as a
 * dead letter hours later: a retired model, and `inference_geo` on a model that does not take it.
 */
export function checkModel(params: Record<string, unknown>, ctx: ModelCheckContext, at: At): void {
  const model = params.model;
  if (typeof model !== 'string') return;
  const life = modelLifecycle(model, ctx.prices, ctx.now);
  if (life.state === 'retired') {
    const instead = life.replacement ? `use ${life.replacement}` : 'use an active model';
    at('params.model', `${model} was retired on ${life.retiresOn} and the API refuses it: ${instead}`);
    ctx.retired?.push({
      model,
      retiredOn: life.retiresOn,
      ...(life.replacement ? { replacement: life.replacement } : {}),
    });
  }
  const geo = params.inference_geo;
  if (geo === undefined || geo === null) return;
  if (typeof geo !== 'string' || geo === '') {
    at(
      'params.inference_geo',
      'must be a region such as "us" or "global" (or omitted for the workspace default)',
    );
  } else if (priceFor(model, ctx.prices)?.inferenceGeo === false) {
    at(
      'params.inference_geo',
      `is refused by ${model} (data residency needs Opus or Sonnet 4.6 or later): remove it or use such a model`,
    );
  }
}
