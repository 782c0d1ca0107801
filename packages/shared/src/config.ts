import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { API_MAX_BYTES, API_MAX_REQUESTS } from './api-limits.js';
import { type Budget, parseBudgetsFile } from './budgets.js';
import { ConfigError } from './errors.js';
import { DEFAULT_PREFIX } from './keys.js';
import { checkPriceTable, DEFAULT_PRICES, mergePriceTables, type PriceTable } from './pricing.js';

const ms = (def: number) => z.coerce.number().int().min(1).default(def);
const count = (def: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(1).max(max).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The submission circuit's probe intervals when nothing else is configured (the producer's real-time
 * path opens the circuit with these; the batcher and collector take NIGHTSHIFT_CIRCUIT_*).
 */
export const CIRCUIT_DEFAULTS = Object.freeze({ cooldownMs: 30 * MINUTE, maxCooldownMs: 24 * HOUR });

/**
 * One name of NIGHTSHIFT_BOARD_ALLOWED_HOSTS: a host name (a leading dot admits the name and its
 * subdomains, `.ops.example.com`), an IPv4 address, or an IPv6 address in brackets. No port.
 */
const ALLOWED_HOST =
  /^(?:\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;
const hostList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  )
  .refine((list) => list.every((h) => ALLOWED_HOST.test(h)), {
    message:
      'use comma-separated host names without port or scheme (e.g. "board.internal,.ops.example.com"), IPv4 addresses or [IPv6] addresses',
  })
  .transform((list) => (list.length ? list : undefined));

/** The shortest board password or token accepted (see {@link weakSecretReason}). */
export const MIN_BOARD_SECRET_LENGTH = 16;

/**
 * Why a board password or token is too weak to guard the board, or null when it is fine: shorter
 * than 16 characters, one character repeated, or (a password) the user name itself. The secret
 * is never part of the answer.
 */
export function weakSecretReason(secret: string, user?: string): string | null {
  if ([...secret].length < MIN_BOARD_SECRET_LENGTH) {
    return `must be at least ${MIN_BOARD_SECRET_LENGTH} characters (e.g. \`openssl rand -base64 18\`)`;
  }
  if (new Set(secret).size === 1) return 'must not be one character repeated';
  if (user !== undefined && secret === user) return 'must not be the user name';
  return null;
}

/**
 * Every environment variable Nightshift reads, with its default and meaning. The README's
 * configuration table is checked against this list by a test.
 */
export const SETTINGS = {
  REDIS_URL: {
    schema: z.string().default('redis://127.0.0.1:6379'),
    doc: 'Redis connection: `redis://` or `rediss://` (TLS), with password if any.',
  },
  NIGHTSHIFT_REDIS_CLUSTER_NODES: {
    schema: optionalString,
    doc: 'Comma-separated `host:port` seed nodes of a Redis Cluster; when set, used instead of REDIS_URL (whose password/TLS still apply).',
  },
  NIGHTSHIFT_REDIS_SENTINELS: {
    schema: optionalString,
    doc: "Comma-separated `host:port` of Redis Sentinels; when set, roles connect to the master they name and follow it through a failover (REDIS_URL's host is not used, its password/TLS apply to the master).",
  },
  NIGHTSHIFT_REDIS_SENTINEL_MASTER: {
    schema: z
      .string()
      .regex(
        /^[A-Za-z0-9_.-]{1,64}$/,
        'use the master name of `sentinel monitor <name> …` (letters, digits, _ . -)',
      )
      .default('mymaster'),
    doc: 'The master group name the Sentinels monitor (`sentinel monitor <name> …`). Only with NIGHTSHIFT_REDIS_SENTINELS.',
  },
  NIGHTSHIFT_REDIS_SENTINEL_PASSWORD: {
    schema: optionalString,
    doc: "The Sentinels' own password (`requirepass` in sentinel.conf), when they want one. Never logged.",
  },
  ANTHROPIC_API_KEY: {
    schema: optionalString,
    doc: "The SDK's own variable. Unset: the demo uses the local emulator. Never logged.",
  },
  ANTHROPIC_BASE_URL: {
    schema: optionalString,
    doc: "The SDK's own variable: API base URL (the emulator's URL in tests).",
  },
  NIGHTSHIFT_PREFIX: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'use 1–32 of A-Z a-z 0-9 _ . -')
      .default(DEFAULT_PREFIX),
    doc: 'Prefix of every Redis key and queue.',
  },
  NIGHTSHIFT_LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    doc: 'Log level (pino).',
  },
  NIGHTSHIFT_TICK_MS: { schema: ms(60_000), doc: 'Batcher tick: how often it checks whether to flush.' },
  NIGHTSHIFT_MAX_REQUESTS: {
    schema: count(API_MAX_REQUESTS, API_MAX_REQUESTS),
    doc: 'Flush when this many requests wait; also the most per batch (API cap 100,000).',
  },
  NIGHTSHIFT_MAX_BYTES: {
    schema: count(200_000_000, API_MAX_BYTES),
    doc: 'Flush when this many serialized bytes wait; also the most per batch (API limit 256 MB).',
  },
  NIGHTSHIFT_MIN_REQUESTS: {
    schema: count(1),
    doc: 'Do not flush fewer requests unless time, a deadline or a manual flush forces it.',
  },
  NIGHTSHIFT_MAX_WAIT_MS: { schema: ms(HOUR), doc: 'Flush once the oldest waiting request is this old.' },
  NIGHTSHIFT_DEADLINE_SLACK_MS: {
    schema: ms(HOUR),
    doc: 'Safety margin on top of the 24 h batch window when judging deadlines.',
  },
  NIGHTSHIFT_CREATE_TIMEOUT_MS: { schema: ms(120_000), doc: 'Timeout of one `batches.create` call.' },
  NIGHTSHIFT_SUBMISSION_LEASE_MS: {
    schema: ms(10 * MINUTE),
    doc: 'How long a submission may stay unresolved before recovery treats its flush as dead.',
  },
  NIGHTSHIFT_CIRCUIT_COOLDOWN_MS: {
    schema: ms(CIRCUIT_DEFAULTS.cooldownMs),
    doc: 'After the API refuses the account or billing, how long submissions stay stopped before one probe create (or `nightshift circuit close`); a billing circuit doubles it after each refused probe.',
  },
  NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS: {
    schema: ms(CIRCUIT_DEFAULTS.maxCooldownMs),
    doc: 'The longest interval between two probes of a billing / spend-limit circuit (a monthly cap does not lift in 30 minutes).',
  },
  NIGHTSHIFT_FLUSH_LOCK_MS: {
    schema: ms(30_000),
    doc: 'Batcher: lease of the flush lock and of the `{flush}` job; a batcher killed mid-flush holds up flushing for one to two leases. Shorter recovers sooner; a batcher whose event loop stalls for a third of it loses the lock and stops its flush.',
  },
  NIGHTSHIFT_CREATE_BACKOFF_MS: {
    schema: ms(30_000),
    doc: 'Batcher: first pause after a failed `batches.create` (429, 5xx, connection), doubling per failure; a longer `retry-after` wins.',
  },
  NIGHTSHIFT_MAX_CREATE_BACKOFF_MS: {
    schema: ms(30 * MINUTE),
    doc: 'Batcher: the longest pause between failed creates.',
  },
  NIGHTSHIFT_MAX_IN_FLIGHT_REQUESTS: {
    schema: z.coerce.number().int().min(0).default(API_MAX_REQUESTS),
    doc: "Batcher: most requests in flight at the API at once for this prefix's API key (the workspace's processing-queue cap: 100,000 at tier 1, 200,000 at tier 2, 300,000 at tier 3, 500,000 at tier 4). Each flush submits only what fits, deadlines first, then the oldest, the room shared fairly between partitions (a backlog's share at least a tenth of this, partitions taking turns when the room is shorter); the rest waits for batches to end. Every batcher of the prefix shares it. 0: no cap.",
  },
  NIGHTSHIFT_POLL_MS: { schema: ms(60_000), doc: 'Collector: how often each batch in flight is polled.' },
  NIGHTSHIFT_MAX_POLL_MS: {
    schema: ms(10 * MINUTE),
    doc: 'Collector: the longest poll interval for batches that have been in progress long.',
  },
  NIGHTSHIFT_MAX_ATTEMPTS: { schema: count(3, 100), doc: 'Attempts per request before it is dead-lettered.' },
  NIGHTSHIFT_RETRY_BACKOFF_MS: {
    schema: ms(MINUTE),
    doc: 'Base of the exponential backoff before a requeued request may be submitted again.',
  },
  NIGHTSHIFT_NOT_FOUND_GRACE_MS: {
    schema: ms(10 * MINUTE),
    doc: 'How long 404s for a batch we created are treated as API propagation delay.',
  },
  NIGHTSHIFT_RESULT_RETENTION_DAYS: {
    schema: count(35, 3650),
    doc: 'Days delivered results and batch records are kept in Redis (longer than the API’s 29).',
  },
  NIGHTSHIFT_HEAP_GROWING_PERCENT: {
    schema: z.coerce.number().int().min(0).max(1_000).default(100),
    doc: 'Batcher and collector processes: how far V8 lets the heap grow past its live size before a full GC, in %; keeps memory flat whatever the batch size. 0 keeps V8’s own (up to 4×).',
  },
  NIGHTSHIFT_COLLECTOR_LOCK_MS: {
    schema: ms(30_000),
    doc: 'Collector: BullMQ lock of a batch being collected; a killed collector’s batches are taken up after half to 1.5× of it. Shorter recovers sooner; a collector whose event loop stalls for half of it loses the batch to another (nothing is applied twice).',
  },
  NIGHTSHIFT_RESULTS_PER_JOB: {
    schema: count(100, 1_000),
    doc: 'Collector: results of a batch carried by one `{results}` job (the consumer still handles them one by one).',
  },
  NIGHTSHIFT_DELETE_AFTER_COLLECT: {
    schema: bool(false),
    doc: 'Delete each batch at the API once its results are applied.',
  },
  NIGHTSHIFT_ADOPT_ORPHANS: {
    schema: bool(false),
    doc: 'Collector lists batches at the API and adopts ended ones whose custom_ids are ours but unknown.',
  },
  NIGHTSHIFT_ALERT_POLL_STALE_MS: {
    schema: ms(15 * MINUTE),
    doc: 'Alert when the collector has not polled successfully for this long.',
  },
  NIGHTSHIFT_ALERT_UNAPPLIED_MS: {
    schema: ms(HOUR),
    doc: 'Alert when an ended batch’s results are still not applied after this long.',
  },
  NIGHTSHIFT_ALERT_ARCHIVE_DAYS: {
    schema: count(3, 28),
    doc: 'Alert when uncollected results are this many days from the 29-day archive.',
  },
  NIGHTSHIFT_PRICING_FILE: {
    schema: optionalString,
    doc: 'JSON file of model prices (USD per MTok) merged over the built-in table.',
  },
  NIGHTSHIFT_BUDGETS_FILE: {
    schema: optionalString,
    doc: 'JSON file of spend budgets, `{"budgets":[{"name":"classify-docs","period":"day","limitUsd":50,"feature":"classify-docs","mode":"hold","alertAt":0.8}]}` (period day or month, mode hold or refuse; feature and partition optional), validated at start-up and written into the store by the batcher (ARCHITECTURE.md "Budgets"); `nightshift budget set` changes them at run time.',
  },
  NIGHTSHIFT_METRICS_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    doc: 'Port of this role process’s Prometheus `/metrics` server (batcher, collector, board, api, webhooks); unset: none (the board still answers `/metrics` on its own port). 0 picks a free port (logged).',
  },
  NIGHTSHIFT_METRICS_HOST: {
    schema: z.string().min(1).default('127.0.0.1'),
    doc: 'Listen address of the `/metrics` server (`0.0.0.0` in a container that Prometheus scrapes from outside).',
  },
  NIGHTSHIFT_METRICS_TOKEN: {
    schema: optionalString,
    doc: 'When set, `/metrics` wants `Authorization: Bearer <token>` (Prometheus: `authorization.credentials`). Never logged.',
  },
  NIGHTSHIFT_BOARD_HOST: { schema: z.string().default('127.0.0.1'), doc: 'Board listen address.' },
  NIGHTSHIFT_BOARD_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(3000),
    doc: 'Board port.',
  },
  NIGHTSHIFT_BOARD_USER: {
    schema: optionalString,
    doc: 'Board basic-auth user (with NIGHTSHIFT_BOARD_PASSWORD; one without the other stops start-up).',
  },
  NIGHTSHIFT_BOARD_PASSWORD: {
    schema: optionalString,
    doc: 'Board basic-auth password: at least 16 characters, not the user name. Never logged.',
  },
  NIGHTSHIFT_BOARD_TOKEN: {
    schema: optionalString,
    doc: 'Board bearer token (alternative to basic auth): at least 16 characters. Never logged.',
  },
  NIGHTSHIFT_BOARD_READ_ONLY: { schema: bool(false), doc: 'Board refuses every mutation (viewers).' },
  NIGHTSHIFT_BOARD_ALLOWED_HOSTS: {
    schema: hostList,
    doc: 'Host names the board answers to besides localhost, 127.0.0.1 and [::1] (comma-separated; `.example.com` admits subdomains); other `Host` headers get 421. Without credentials this guards against DNS rebinding; with credentials the check applies only when this is set.',
  },
  NIGHTSHIFT_BOARD_REDIS_DETAILS: {
    schema: bool(false),
    doc: 'Bull Board shows Redis INFO (version, OS, memory) and the clients connected to each queue (addresses). Off: hidden and refused.',
  },
  NIGHTSHIFT_API_HOST: {
    schema: z.string().default('127.0.0.1'),
    doc: 'HTTP API (`nightshift-api`) listen address.',
  },
  NIGHTSHIFT_API_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(3100),
    doc: 'HTTP API port.',
  },
  NIGHTSHIFT_API_AUTH: {
    schema: z.enum(['tokens', 'none']).default('tokens'),
    doc: 'HTTP API authentication: `tokens` (every call needs a token made with `nightshift api-token create`) or `none` (only on a loopback address, loopback callers only).',
  },
  NIGHTSHIFT_API_ALLOWED_HOSTS: {
    schema: hostList,
    doc: 'Host names the HTTP API answers to besides localhost, 127.0.0.1, [::1] and its listen address (comma-separated; `.example.com` admits subdomains); other `Host` headers get 421, as on the board. With `NIGHTSHIFT_API_AUTH=none` the check always applies (DNS rebinding); with tokens only when this is set.',
  },
  NIGHTSHIFT_API_BODY_LIMIT_BYTES: {
    schema: count(10 * 1024 * 1024, 256 * 1024 * 1024),
    doc: 'HTTP API: the largest request body accepted (413 above it).',
  },
  NIGHTSHIFT_API_MAX_ITEMS: {
    schema: count(10_000, 100_000),
    doc: 'HTTP API: the most requests one `POST /v1/requests` may carry.',
  },
  NIGHTSHIFT_API_RATE_LIMIT: {
    schema: count(600, 1_000_000),
    doc: 'HTTP API: calls per token per minute (shared by every API replica through Redis; 429 with `Retry-After` above it).',
  },
  NIGHTSHIFT_WEBHOOK_ATTEMPTS: {
    schema: count(12, 100),
    doc: 'Webhooks: delivery attempts per event and endpoint before the delivery fails (replayable).',
  },
  NIGHTSHIFT_WEBHOOK_BACKOFF_MS: {
    schema: ms(10_000),
    doc: 'Webhooks: the first retry delay; each next one doubles (with jitter), up to 1 h.',
  },
  NIGHTSHIFT_WEBHOOK_TIMEOUT_MS: {
    schema: ms(10_000),
    doc: 'Webhooks: timeout of one delivery attempt (connect to end of the answer).',
  },
  NIGHTSHIFT_WEBHOOK_FAILURE_WINDOW_MS: {
    schema: ms(5 * 24 * HOUR),
    doc: 'Webhooks: an endpoint that has failed every delivery for this long is disabled (HTTP 410 disables it at once).',
  },
  NIGHTSHIFT_WEBHOOK_MAX_TEXT_BYTES: {
    schema: count(64 * 1024, 16 * 1024 * 1024),
    doc: 'Webhooks: the most UTF-8 bytes of result text in a `request.succeeded` event (cut beyond, `textTruncated: true`).',
  },
  NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE: {
    schema: bool(false),
    doc: 'Webhooks: allow endpoints that resolve to loopback, private or link-local addresses (refused by default).',
  },
  NIGHTSHIFT_WEBHOOK_CONCURRENCY: {
    schema: count(16, 1_000),
    doc: 'Webhooks: deliveries in progress at once per `nightshift-webhooks` process.',
  },
  NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS: {
    schema: bool(false),
    doc: 'Webhooks: the webhooks role also consumes `{results}`, for a deployment with no result worker of its own (services using only the HTTP API and webhooks): a result is handed over once its `request.succeeded` deliveries are enqueued, then its text leaves Redis and its record is compacted. Leave off when a service runs `createResultWorker`.',
  },
} as const;

type Settings = typeof SETTINGS;
export type Env = { [K in keyof Settings]: z.output<Settings[K]['schema']> };

/** The validated configuration of a Nightshift process. */
export interface Config {
  env: Env;
  prefix: string;
  prices: PriceTable;
  /** The budgets of NIGHTSHIFT_BUDGETS_FILE, validated (undefined when it is unset). */
  budgets?: Budget[];
}

/**
 * Reads and validates the environment once. Unknown `NIGHTSHIFT_*` variables and invalid values stop
 * start-up with one message that names every bad variable.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const env: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const raw = source[name];
    const parsed = setting.schema.safeParse(raw === '' && !name.startsWith('ANTHROPIC') ? undefined : raw);
    if (parsed.success) env[name] = parsed.data;
    else
      problems.push(
        `${name}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
  }
  for (const name of Object.keys(source)) {
    if (name.startsWith('NIGHTSHIFT_') && !(name in SETTINGS)) {
      problems.push(`${name}: unknown setting (see the configuration table in README.md)`);
    }
  }
  const typed = env as Env;
  let prices: PriceTable = { ...DEFAULT_PRICES };
  if (typed.NIGHTSHIFT_PRICING_FILE && problems.length === 0) {
    try {
      const table = JSON.parse(readFileSync(typed.NIGHTSHIFT_PRICING_FILE, 'utf8'));
      const bad = checkPriceTable(table);
      if (bad.length) problems.push(`NIGHTSHIFT_PRICING_FILE: ${bad.join('; ')}`);
      else prices = mergePriceTables(prices, table);
    } catch (err) {
      problems.push(
        `NIGHTSHIFT_PRICING_FILE: cannot read ${typed.NIGHTSHIFT_PRICING_FILE}: ${(err as Error).message}`,
      );
    }
  }
  if (typed.NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS < typed.NIGHTSHIFT_CIRCUIT_COOLDOWN_MS) {
    problems.push('NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS: must be at least NIGHTSHIFT_CIRCUIT_COOLDOWN_MS');
  }
  if (typed.NIGHTSHIFT_REDIS_SENTINELS && typed.NIGHTSHIFT_REDIS_CLUSTER_NODES) {
    problems.push(
      'NIGHTSHIFT_REDIS_SENTINELS: set it or NIGHTSHIFT_REDIS_CLUSTER_NODES, not both (a Cluster fails over by itself; Sentinel watches one master with replicas)',
    );
  }
  let budgets: Budget[] | undefined;
  if (typed.NIGHTSHIFT_BUDGETS_FILE && problems.length === 0) {
    try {
      budgets = parseBudgetsFile(readFileSync(typed.NIGHTSHIFT_BUDGETS_FILE, 'utf8'));
    } catch (err) {
      problems.push(
        err instanceof ConfigError
          ? err.message
          : `NIGHTSHIFT_BUDGETS_FILE: cannot read ${typed.NIGHTSHIFT_BUDGETS_FILE}: ${(err as Error).message}`,
      );
    }
  }
  problems.push(...boardAuthProblems(typed));
  if (problems.length) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return { env: typed, prefix: typed.NIGHTSHIFT_PREFIX, prices, ...(budgets ? { budgets } : {}) };
}

/** What is wrong with the board's credentials (pairing and strength), never quoting a secret. */
function boardAuthProblems(env: Env): string[] {
  const {
    NIGHTSHIFT_BOARD_USER: user,
    NIGHTSHIFT_BOARD_PASSWORD: password,
    NIGHTSHIFT_BOARD_TOKEN: token,
  } = env;
  const out: string[] = [];
  if (user && !password) out.push('NIGHTSHIFT_BOARD_PASSWORD: required when NIGHTSHIFT_BOARD_USER is set');
  if (password && !user) {
    // Silently ignored, it would leave the board without any auth.
    out.push('NIGHTSHIFT_BOARD_USER: required when NIGHTSHIFT_BOARD_PASSWORD is set');
  }
  if (token && (user || password)) {
    out.push(
      'NIGHTSHIFT_BOARD_TOKEN: set either it or NIGHTSHIFT_BOARD_USER/NIGHTSHIFT_BOARD_PASSWORD, not both',
    );
  }
  const weakPassword = password ? weakSecretReason(password, user) : null;
  if (weakPassword) out.push(`NIGHTSHIFT_BOARD_PASSWORD: ${weakPassword}`);
  const weakToken = token ? weakSecretReason(token) : null;
  if (weakToken) out.push(`NIGHTSHIFT_BOARD_TOKEN: ${weakToken}`);
  return out;
}

/** The README's configuration table, rendered from SETTINGS (a test keeps the README in sync). */
export function renderConfigTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => {
    const parsed = s.schema.safeParse(undefined);
    const def = parsed.success && parsed.data !== undefined ? `\`${String(parsed.data)}\`` : '(unset)';
    return `| \`${name}\` | ${def} | ${s.doc} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
