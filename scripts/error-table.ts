// The "API errors" tables of ARCHITECTURE.md, generated from the pinned SDK (its ERROR_CODE_CLASSES
// map, the JSDoc of each class, the `@throws` of the endpoints we call) and from our classification
// (packages/shared/src/api-errors.ts). `pnpm gen:readme` writes them; a test keeps them current.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as sdkErrorClasses from '@anthropic-ai/sdk/core/error-classes';
import {
  type ApiErrorFamily,
  CODE_DECISIONS,
  CODES_NOT_ON_OUR_ENDPOINTS,
  defaultFamily,
} from '@nightshift/shared';

type ErrorClass = (new (...args: never[]) => Error) & { _errorName?: string; name: string };

/** One `status error_code` pair the SDK declares, with its class. */
export interface SdkCode {
  key: string;
  status: number;
  code: string;
  cls: ErrorClass;
}

/** Every pair of the SDK's (internal, but exported at run time) `ERROR_CODE_CLASSES`. */
export function sdkCodes(): SdkCode[] {
  const map = (sdkErrorClasses as unknown as { ERROR_CODE_CLASSES: Map<string, ErrorClass> })
    .ERROR_CODE_CLASSES;
  return [...map].map(([key, cls]) => {
    const [status, code] = key.split(' ') as [string, string];
    return { key, status: Number(status), code, cls };
  });
}

// The package's main entry sits at its root, next to the `src/` it ships.
const sdkSrc = join(dirname(createRequire(import.meta.url).resolve('@anthropic-ai/sdk')), 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const clean = (doc: string) =>
  doc
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();

/** Class name → the first sentence of its JSDoc in the SDK source. */
function classDocs(): Map<string, string> {
  const docs = new Map<string, string>();
  const re = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export class (\w+) extends/g;
  for (const file of tsFiles(join(sdkSrc, 'resources'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(re)) {
      const text = clean(m[1]!);
      docs.set(m[2]!, (/^.*?[.!?](?=\s|$)/.exec(text)?.[0] ?? text).replace(/\|/g, '\\|'));
    }
  }
  return docs;
}

/** The SDK calls Nightshift makes, and the source file of each. */
const OUR_CALLS = [
  {
    file: 'resources/messages/batches.ts',
    prefix: 'messages.batches.',
    methods: ['create', 'retrieve', 'list', 'cancel', 'delete', 'results'],
  },
  { file: 'resources/messages/messages.ts', prefix: 'messages.', methods: ['create'] },
];

/** Class name → the SDK calls of ours whose JSDoc says `@throws {Class}`. */
export function declaredOnOurCalls(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { file, prefix, methods } of OUR_CALLS) {
    const text = readFileSync(join(sdkSrc, file), 'utf8');
    for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*\n\s*(\w+)\(/g)) {
      if (!methods.includes(m[2]!)) continue;
      for (const t of m[1]!.matchAll(/@throws \{(\w+)\}/g)) {
        const calls = out.get(t[1]!) ?? [];
        const call = `${prefix}${m[2]}`;
        if (!calls.includes(call)) calls.push(call);
        out.set(t[1]!, calls);
      }
    }
  }
  return out;
}

/** What each family makes Nightshift do, where it can occur. */
const FAMILY_ACTIONS: Record<
  ApiErrorFamily,
  { create: string; reads: string; line: string; realtime: string }
> = {
  account: {
    create:
      'release; **account circuit** (code + fix in the alert); probe after `NIGHTSHIFT_CIRCUIT_COOLDOWN_MS`',
    reads: 'account circuit; the tracking job retries with backoff',
    line: 'requeue without an attempt; account circuit',
    realtime: 'stays `realtime`; account circuit',
  },
  permission: {
    create: 'release; account circuit',
    reads: 'account circuit; retry with backoff',
    line: 'dead at once (this request may not be made with this key)',
    realtime: 'stays `realtime`; account circuit',
  },
  billing: {
    create:
      'release; **billing circuit**: probe interval doubles from the cooldown up to `NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS`',
    reads: 'billing circuit; retry with backoff',
    line: 'requeue without an attempt; billing circuit',
    realtime: 'stays `realtime`; billing circuit',
  },
  'rate-limit': {
    create: 'release; create backoff (30 s doubling to 30 min, or `retry-after` if longer); never a circuit',
    reads: 'retry after backoff or `retry-after`',
    line: 'retry (an attempt)',
    realtime: 'stays `realtime`; the sweep calls again',
  },
  temporary: {
    create: 'refused before anything was created: release; create backoff; **not reconciled**',
    reads: 'retry with backoff',
    line: 'retry (an attempt)',
    realtime: 'stays `realtime`; the sweep calls again',
  },
  'too-large': {
    create: 'split in two and submit each half; a single request still too large is dead',
    reads: '(not answered to a GET)',
    line: 'dead at once',
    realtime: 'dead',
  },
  invalid: {
    create:
      "naming `requests.<i>` (no code): that request dead, the rest submitted; otherwise the call is refused: release; **account circuit** with the API's message; no bisection",
    reads: 'reported (`error` event); retry with backoff',
    line: 'dead at once (params are validated after create)',
    realtime: 'dead (the Messages API validates params at once)',
  },
  'not-found': {
    create: 'release; create backoff; `error` event',
    reads: 'within the grace: propagation delay; after it, three in a row: batch lost, requests requeued',
    line: 'dead at once',
    realtime: 'dead',
  },
  refused: {
    create: 'release; create backoff; `error` event',
    reads: 'reported; retry with backoff',
    line: 'retry (an attempt)',
    realtime: 'dead',
  },
  ambiguous: {
    create:
      '**reconcile**: adopt the batch if `batches.list` shows it, else leave the submission to recovery',
    reads: 'retry with backoff',
    line: 'retry (an attempt)',
    realtime: 'stays `realtime`; the sweep calls again',
  },
};

/** The three generated tables (families, status defaults, every SDK code), as markdown. */
export function renderErrorTables(): string {
  const families = [
    '| family | `batches.create` | `retrieve` / `results` | errored result line | real-time `messages.create` |',
    '| --- | --- | --- | --- | --- |',
    ...(Object.entries(FAMILY_ACTIONS) as [ApiErrorFamily, (typeof FAMILY_ACTIONS)[ApiErrorFamily]][]).map(
      ([f, a]) => `| ${f} | ${a.create} | ${a.reads} | ${a.line} | ${a.realtime} |`,
    ),
  ];
  const statuses: [string, number | null][] = [
    ['no answer (connection error, timeout, abort)', null],
    ['400', 400],
    ['401', 401],
    ['402', 402],
    ['403', 403],
    ['404', 404],
    ['408', 408],
    ['409, 412, 422, other 4xx', 409],
    ['413', 413],
    ['429', 429],
    ['5xx, 529', 500],
  ];
  const defaults = [
    '| status | without a code | with a code that has no decision of its own |',
    '| --- | --- | --- |',
    ...statuses.map(
      ([label, s]) =>
        `| ${label} | ${defaultFamily(s, false)} | ${s === null ? '–' : defaultFamily(s, true)} |`,
    ),
    '| any status, `error.type` `billing_error` | billing | billing |',
  ];
  const docs = classDocs();
  const declared = declaredOnOurCalls();
  const rows = sdkCodes().map(({ status, code, key, cls }) => {
    const name = cls._errorName ?? cls.name;
    const own = CODE_DECISIONS[key];
    const family = own ? own.family : defaultFamily(status, true);
    const where = declared
      .get(name)
      ?.map((c) => `\`${c}\``)
      .join(', ');
    const decision = own
      ? `**${family}**`
      : `${family} (status default${CODES_NOT_ON_OUR_ENDPOINTS.includes(key) ? '; not on our endpoints' : ''})`;
    return `| ${status} | \`${code}\` | \`${name}\` | ${docs.get(name) ?? ''} | ${decision} | ${where ?? '–'} |`;
  });
  const codes = [
    "| status | `error_code` | SDK class | what it means (the SDK's JSDoc) | Nightshift's family | our SDK calls that declare it (`@throws`) |",
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ];
  return [
    '**What each family does.**',
    '',
    ...families,
    '',
    '**A status without a decision of its own** (a code the SDK does not declare yet, or none):',
    '',
    ...defaults,
    '',
    `**Every code the pinned SDK declares** (${rows.length}, \`ERROR_CODE_CLASSES\`; bold: a decision of its own):`,
    '',
    ...codes,
  ].join('\n');
}
