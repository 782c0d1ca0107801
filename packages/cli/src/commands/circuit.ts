import { type CliContext, UsageError } from '../context.js';

/**
 * `circuit close`: resume submissions after an account refusal or a billing stop, once the cause is
 * fixed. If it is not, the next create is refused again and the circuit reopens.
 */
export async function circuit(ctx: CliContext, action: string | undefined): Promise<number> {
  if (action !== 'close') throw new UsageError('circuit takes one action: close');
  const before = await ctx.store.circuit.state();
  const wasOpen = await ctx.store.circuit.close();
  if (ctx.json) ctx.out(JSON.stringify({ wasOpen, ...(before.open ? { code: before.code } : {}) }));
  else
    ctx.out(
      wasOpen
        ? `Circuit closed (was ${before.open ? before.code : 'open'}): the batcher submits again on its next tick.`
        : 'Circuit was not open.',
    );
  return 0;
}
