import { type CliContext, UsageError } from '../context.js';

/** `circuit close`: resume submissions after a billing stop (once the account is fixed). */
export async function circuit(ctx: CliContext, action: string | undefined): Promise<number> {
  if (action !== 'close') throw new UsageError('circuit takes one action: close');
  const before = await ctx.store.circuit();
  await ctx.store.closeCircuit();
  if (ctx.json) ctx.out(JSON.stringify({ wasOpen: before.open }));
  else
    ctx.out(
      before.open ? 'Circuit closed: the batcher submits again on its next tick.' : 'Circuit was not open.',
    );
  return 0;
}
