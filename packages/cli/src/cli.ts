import { parseArgs } from 'node:util';
import { NightshiftError, redactUrls } from '@nightshift/shared';
import { apiToken } from './commands/api-tokens.js';
import { batches } from './commands/batches.js';
import { budget } from './commands/budgets.js';
import { cancel } from './commands/cancel.js';
import { circuit } from './commands/circuit.js';
import { costs } from './commands/costs.js';
import { deadLetters, retryDead } from './commands/dead-letters.js';
import { flush } from './commands/flush.js';
import { health } from './commands/health.js';
import { migrate } from './commands/migrate.js';
import { status } from './commands/status.js';
import { webhooks } from './commands/webhooks.js';
import { type CliContext, openContext, UsageError } from './context.js';
import { escapeControl } from './format.js';

export const HELP = `Usage: nightshift <command> [options]

Commands:
  status                 queued requests, batches in flight, last flush/poll, alerts, circuit, queues
  batches [--limit N]    known batches, newest first, with counts
  flush [--partition P]  ask the batcher to flush now (waits for its report)
  cancel <batchId>       cancel a batch at the API
  dead-letters [--limit N]
                         list dead letters with their reasons
  retry-dead <customId...> | --all
                         send dead letters back to the queue
  costs [--days 1|7|30]  cost and savings per feature and model
  circuit close          resume submissions after an account refusal or billing stop
  budget set <name> <dollars>/<day|month> [--feature F] [--partition P] [--all]
             [--mode hold|refuse] [--alert-at 0.8]
                         a spend budget at batch price (default scope: the feature <name>)
  budget list | rm <name|name/period>
                         budgets with spent, reserved and remaining this window
  health <batcher|collector|webhooks>
                         exit 0 if such a process on this host sent a heartbeat recently
  api-token create <name> [--features a,b] [--partitions x,y]
                         a token for the HTTP API (shown once), scoped to features/partitions
  api-token list | revoke <id|name>
  webhooks add <name> <url> [--events e1,e2] [--features a,b] [--partitions x,y]
           [--request-only] [--secret whsec_…]
                         register a webhook endpoint (its signing secret is shown once)
  webhooks list | remove <name> | enable <name> | disable <name>
  webhooks failed [<name>] [--limit N]
                         failed deliveries
  webhooks replay <name> | --job <id> | --all
                         send failed deliveries again, with the bodies they failed with
  migrate                bring the store to this version's layout (after an upgrade; idempotent)
  demo [--requests N] [--quick]
                         run the whole pipeline end to end on local defaults (pnpm start)

Options:
  --json                 machine-readable output
  -h, --help             this text

Configuration comes from the environment (REDIS_URL, ANTHROPIC_API_KEY, NIGHTSHIFT_*): see README.md.
Exit codes: 0 ok, 1 failed, 2 usage or configuration error.`;

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: CliIO = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

function positiveInt(value: string | undefined, name: string, def: number): number {
  if (value === undefined) return def;
  // Digits only: Number() would also take "1e3", "0x10" or " 7", and a value past 2^53 would reach
  // Redis as a range it refuses ("ERR value is not an integer or out of range").
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive whole number, got "${value}"`);
  return n;
}

/** Runs one CLI invocation; returns the exit code. Never calls process.exit (tests call it in-process). */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  rawIo: CliIO = stdio,
): Promise<number> {
  // Every line a command prints goes to a terminal: values from Redis (model names, reasons,
  // error messages) must not be able to drive it.
  const io: CliIO = { out: (l) => rawIo.out(escapeControl(l)), err: (l) => rawIo.err(escapeControl(l)) };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`nightshift: ${(err as Error).message}\nRun "nightshift --help" for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    io.out(HELP);
    return command || values.help ? 0 : 2;
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo/run.js');
    return runDemo({
      env,
      io,
      requests: positiveInt(values.requests, 'requests', 300),
      quick: values.quick ?? false,
    });
  }
  let ctx: CliContext | undefined;
  try {
    ctx = openContext(env, io, values.json ?? false);
    return await dispatch(ctx, command, rest, values);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`nightshift: ${err.message}\nRun "nightshift --help" for usage.`);
      return 2;
    }
    if (err instanceof NightshiftError && (err.code === 'CONFIG' || err.code === 'VALIDATION')) {
      io.err(err.message);
      return 2;
    }
    io.err(`nightshift ${command}: ${failureMessage(err as Error, ctx)}`);
    return 1;
  } finally {
    ctx?.redis.disconnect();
  }
}

/**
 * A command that could not reach Redis fails with ioredis' "Reached the max retries per request
 * limit" or "Connection is closed", which hides the cause; the client's last connection error
 * (untrusted certificate, wrong password, refused) is what the user needs to fix it.
 */
function failureMessage(err: Error, ctx: CliContext | undefined): string {
  const cause = ctx?.redisError();
  const unreachable =
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|max retries per request/.test(err.message) ||
    // A refused password fails the command with the refusal itself.
    err.message === cause?.message;
  if (!ctx || !cause || !unreachable) return redactUrls(err.message);
  return `cannot reach Redis at ${ctx.redisWhere}: ${redactUrls(cause.message)}`;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      limit: { type: 'string' },
      days: { type: 'string' },
      all: { type: 'boolean' },
      partition: { type: 'string' },
      requests: { type: 'string' },
      quick: { type: 'boolean' },
      'max-age': { type: 'string' },
      features: { type: 'string' },
      partitions: { type: 'string' },
      events: { type: 'string' },
      secret: { type: 'string' },
      'request-only': { type: 'boolean' },
      job: { type: 'string' },
      feature: { type: 'string' },
      mode: { type: 'string' },
      'alert-at': { type: 'string' },
    },
  });
}

async function dispatch(
  ctx: CliContext,
  command: string,
  args: string[],
  values: ReturnType<typeof parse>['values'],
): Promise<number> {
  switch (command) {
    case 'status':
      return status(ctx);
    case 'batches':
      return batches(ctx, positiveInt(values.limit, 'limit', 50));
    case 'flush':
      return flush(ctx, values.partition);
    case 'cancel':
      return cancel(ctx, args[0]);
    case 'dead-letters':
      return deadLetters(ctx, positiveInt(values.limit, 'limit', 100));
    case 'retry-dead':
      return retryDead(ctx, args, values.all ?? false);
    case 'costs': {
      const days = values.days === undefined ? 7 : Number(values.days);
      if (days !== 1 && days !== 7 && days !== 30)
        throw new UsageError(`--days must be 1, 7 or 30, got "${values.days}"`);
      return costs(ctx, days);
    }
    case 'circuit':
      return circuit(ctx, args[0]);
    case 'migrate':
      return migrate(ctx);
    case 'health':
      return health(ctx, args[0], positiveInt(values['max-age'], 'max-age', 60) * 1000);
    case 'budget':
      return budget(ctx, args, values);
    case 'api-token':
      return apiToken(ctx, args, values);
    case 'webhooks':
      return webhooks(ctx, args, { ...values, limit: positiveInt(values.limit, 'limit', 100) });
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}
