import { ApiTokens } from '@nightshift/store';
import { type CliContext, UsageError } from '../context.js';
import { ago, printRows } from '../format.js';

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

/**
 * `nightshift api-token create <name> [--features a,b] [--partitions x,y]`, `list`, `revoke <id|name>`.
 * The token is printed once, at creation; only its SHA-256 is stored.
 */
export async function apiToken(
  ctx: CliContext,
  args: string[],
  values: { features?: string | undefined; partitions?: string | undefined },
): Promise<number> {
  const [action, target] = args;
  const tokens = new ApiTokens(ctx.store);
  switch (action) {
    case 'create': {
      if (!target)
        throw new UsageError('api-token create needs a name, e.g. api-token create billing-service');
      const { token, record } = await tokens.create({
        name: target,
        features: list(values.features),
        partitions: list(values.partitions),
      });
      if (ctx.json) ctx.out(JSON.stringify({ token, ...record }, null, 2));
      else {
        ctx.out(`Token ${record.id} for ${record.name} (${scope(record)}):`);
        ctx.out(`  ${token}`);
        ctx.out('It is shown this once: store it in the service’s secrets now (only its hash is kept).');
      }
      return 0;
    }
    case 'list': {
      printRows(ctx, await tokens.list(), (t) => ({
        id: t.id,
        name: t.name,
        scope: scope(t),
        created: ago(t.createdAt),
      }));
      return 0;
    }
    case 'revoke': {
      if (!target) throw new UsageError('api-token revoke needs a token id or name (see api-token list)');
      const n = await tokens.revoke(target);
      if (ctx.json) ctx.out(JSON.stringify({ revoked: n }));
      else ctx.out(n ? `Revoked ${n} token(s).` : `No token with id or name "${target}".`);
      return n ? 0 : 1;
    }
    default:
      throw new UsageError(`api-token needs create, list or revoke, got "${action ?? ''}"`);
  }
}

function scope(t: { features: string[]; partitions: string[] }): string {
  const f = t.features.length ? `features ${t.features.join(',')}` : 'any feature';
  const p = t.partitions.length ? `partitions ${t.partitions.join(',')}` : 'any partition';
  return `${f}; ${p}`;
}
