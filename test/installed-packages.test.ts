/**
 * The packages as a user gets them. Every public package is packed once (`pnpm pack`, whose prepack
 * builds it) and the tarballs are installed with npm into two projects under the OS temp dir,
 * outside the workspace (no workspace links, no tsx): one with the lowest ioredis and
 * @anthropic-ai/sdk of the peer ranges, one with the highest. In each, services run with plain
 * `node` against the installed bins (`nightshift-emulator`, `nightshift-batcher`,
 * `nightshift-collector`, `nightshift-api`, `nightshift-webhooks`) and a redis-server of this test; the example project
 * (examples/classify-documents) compiles with the project's own `tsc` and runs; `npx nightshift
 * demo` runs to its summary. publint and arethetypeswrong check the same tarballs.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { freePort, keepOutput, type RedisServer, startRedisServer, waitFor } from '@nightshift/testing';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'classify-documents');
const FIXTURES = fileURLToPath(new URL('./installed/', import.meta.url));
/** Every package a user installs: all but the private @nightshift/testing. */
const PUBLIC = [
  'shared',
  'telemetry',
  'store',
  'producer',
  'batcher',
  'collector',
  'board',
  'api',
  'webhooks',
  'cli',
  'emulator',
];
/** The packages a service may import (and hand its own clients to): all but the two tools. */
const LIBRARIES = PUBLIC.filter((name) => name !== 'cli' && name !== 'emulator');
/** The peer ranges the packages declare, and the two ends of them each project installs. */
const PEER_RANGES = { '@anthropic-ai/sdk': '^1.14.0', ioredis: '^5.3.0 || ^6.0.0' };
const PROJECTS = {
  lowest: { '@anthropic-ai/sdk': '1.14.0', ioredis: '5.3.0' },
  highest: { '@anthropic-ai/sdk': '1.16.0', ioredis: '6.0.0' },
} as const;
type Which = keyof typeof PROJECTS;

// Children get PATH without the workspace's node_modules/.bin (pnpm puts it first), HOME, and what
// each call adds: nothing of the workspace (or of this process's NODE_OPTIONS) leaks in.
const PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.startsWith(ROOT))
  .join(delimiter);
// Kept between runs, so npm downloads the registry dependencies once per machine.
const NPM_CACHE = join(tmpdir(), 'nightshift-npm-cache');
const env = (extra: Record<string, string> = {}) => ({
  PATH,
  HOME: process.env.HOME ?? tmpdir(),
  npm_config_cache: NPM_CACHE,
  npm_config_update_notifier: 'false',
  ...extra,
});

const execFileP = promisify(execFile);
async function run(cmd: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
  try {
    return await execFileP(cmd, args, { cwd, env: env(extraEnv), timeout: 180_000, maxBuffer: 1 << 26 });
  } catch (err) {
    const e = err as { message: string; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout}\n${e.stderr}`);
  }
}

/** The JSON line a service prints last. */
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null');

const workspaceVersion = (pkg: string) =>
  JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;

let packDir: string;
const tarballs: Record<string, string> = {};
const projects = {} as Record<Which, string>;
let redis: RedisServer;

/** A project like examples/classify-documents, with every dependency from the tarballs or npm. */
function writeProject(which: Which): string {
  const dir = mkdtempSync(join(tmpdir(), `nightshift-installed-${which}-`));
  const example = JSON.parse(readFileSync(join(EXAMPLE, 'package.json'), 'utf8'));
  const manifest = {
    ...example,
    name: `installed-${which}`,
    dependencies: {
      ...Object.fromEntries(PUBLIC.map((name) => [`@nightshift/${name}`, `file:${tarballs[name]}`])),
      ...PROJECTS[which],
    },
    devDependencies: {
      '@types/node': workspaceVersion('@types/node'),
      typescript: workspaceVersion('typescript'),
    },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  cpSync(join(EXAMPLE, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  cpSync(join(EXAMPLE, 'src'), join(dir, 'src'), { recursive: true });
  for (const f of ['own-clients.ts', 'require-types.cts']) cpSync(join(FIXTURES, f), join(dir, 'src', f));
  for (const f of ['esm-service.mjs', 'cjs-service.cjs', 'http-service.mjs'])
    cpSync(join(FIXTURES, f), join(dir, f));
  return dir;
}

beforeAll(async () => {
  packDir = mkdtempSync(join(tmpdir(), 'nightshift-packs-'));
  const filters = ['--filter', './packages/*', '--filter', '!@nightshift/testing'];
  await run('pnpm', ['-r', ...filters, 'pack', '--pack-destination', packDir], ROOT);
  for (const name of PUBLIC) {
    const file = readdirSync(packDir).find((f) => f.startsWith(`nightshift-${name}-`));
    if (!file) throw new Error(`pnpm pack wrote no tarball for @nightshift/${name}`);
    tarballs[name] = join(packDir, file);
  }
  const [low, high] = [writeProject('lowest'), writeProject('highest')];
  projects.lowest = low;
  projects.highest = high;
  redis = await startRedisServer();
  const install = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  await Promise.all([run('npm', install, low), run('npm', install, high)]);
}, 300_000);

// Removing two installed projects' node_modules can take longer than the default 30 s on a busy machine.
afterAll(async () => {
  await redis?.stop();
  for (const dir of [packDir, ...Object.values(projects)])
    if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("the README's service example", () => {
  it('is the example project, verbatim (the project runs below)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Using it from a service'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const example = readFileSync(join(EXAMPLE, 'src', 'classify.ts'), 'utf8');
    const imports = block.split('\n').filter((line) => line.startsWith('import '));
    const body = block
      .split('\n')
      .filter((line) => !line.startsWith('import '))
      .join('\n')
      .trim();
    expect(imports.length).toBeGreaterThan(0);
    for (const line of imports) expect(example).toContain(`${line}\n`);
    expect(body.length).toBeGreaterThan(500);
    expect(example).toContain(body);
  });
});

describe('the packed tarballs', () => {
  it('hold the build, the source, the Lua scripts and the license; no tests', async () => {
    for (const name of PUBLIC) {
      const { stdout } = await run('tar', ['-tzf', tarballs[name]!], ROOT);
      const files = stdout.split('\n').filter(Boolean);
      expect(files, name).toEqual(
        expect.arrayContaining([
          'package/dist/index.js',
          'package/dist/index.d.ts',
          'package/dist/index.js.map',
          'package/src/index.ts',
          'package/LICENSE',
          'package/README.md',
          'package/CHANGELOG.md',
        ]),
      );
      expect(
        files.filter((f) => /\/test\/|\.test\.|tsbuildinfo|tsconfig/.test(f)),
        name,
      ).toEqual([]);
    }
    const store = (await run('tar', ['-tzf', tarballs.store!], ROOT)).stdout;
    expect(store).toContain('package/src/scripts/apply.lua');
  }, 60_000);

  it('pass publint (strict) and arethetypeswrong (ESM only: require() of ESM, proven at run time below)', async () => {
    for (const name of PUBLIC) {
      const data = readFileSync(tarballs[name]!);
      const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
      const { messages, pkg } = await publint({ pack: { tarball }, strict: true });
      expect(
        messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`),
        name,
      ).toEqual([]);
      const types = await checkPackage(createPackageFromTarballData(new Uint8Array(data)));
      // attw's "esm-only" profile: TypeScript's node16 CommonJS mode cannot require() ESM (nodenext
      // can, see require-types.cts), which is the one thing it may report.
      const problems = (types.types ? types.problems : [{ kind: 'NoTypes' }]).filter(
        (p) => !('resolutionKind' in p && p.resolutionKind === 'node16-cjs' && p.kind === 'CJSResolvesToESM'),
      );
      expect(problems, name).toEqual([]);
    }
  }, 120_000);

  it('make ioredis and @anthropic-ai/sdk peers of the libraries, with the ranges these projects test', () => {
    const manifest = (name: string) =>
      JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8'));
    for (const name of LIBRARIES) {
      const { dependencies = {}, peerDependencies = {} } = manifest(name);
      for (const [peer, range] of Object.entries(peerDependencies))
        expect(range, name).toBe(PEER_RANGES[peer as never]);
      for (const peer of Object.keys(PEER_RANGES))
        expect(Object.keys(dependencies), name).not.toContain(peer);
    }
    expect(manifest('producer').peerDependencies).toEqual(PEER_RANGES);
    // The CLI is an application: it brings its own (a service's copies stay the ones its libraries use).
    expect(Object.keys(manifest('cli').dependencies)).toEqual(
      expect.arrayContaining(Object.keys(PEER_RANGES)),
    );
  });

  it('publish as a dry run', async () => {
    const { stdout, stderr } = await run('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks'], ROOT);
    for (const name of PUBLIC) expect(stdout + stderr).toContain(`@nightshift/${name}@`);
    expect(stdout + stderr).not.toContain('@nightshift/testing@');
  }, 120_000);
});

describe("the Docker image's runtime layout", () => {
  it('loads every role docker-compose.yml runs from a production-only deploy of the CLI (no dev dependencies)', async () => {
    // What the Dockerfile's build stage copies into the runtime stage (it builds first; so did pack).
    const app = join(packDir, 'app');
    await run('pnpm', ['--filter', '@nightshift/cli', 'deploy', '--prod', app], ROOT);
    expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@nightshift', 'testing'))).toBe(false);
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const commands = [...compose.matchAll(/^\s+(?:command|test): (\[.*\])$/gm)]
      .map((m) => JSON.parse(m[1]!) as string[])
      .map((argv) => (argv[0] === 'CMD' ? argv.slice(1) : argv))
      .filter((argv) => argv[0] === 'node' && !argv.includes('-e'));
    expect(commands.length).toBe(8); // five roles, three health checks
    for (const [, ...args] of commands) {
      // An invalid setting stops each one right after its whole module graph has loaded.
      const child = await execFileP('node', args, {
        cwd: app,
        env: env({ NIGHTSHIFT_TICK_MS: 'soon' }),
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(child.stderr, args.join(' ')).toContain('NIGHTSHIFT_TICK_MS');
      expect(child.code, args.join(' ')).not.toBe(0);
    }
  }, 120_000);
});

/** A process of a test project, its output kept to explain a failure. */
interface Proc {
  child: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

function start(dir: string, bin: string, args: string[], extraEnv: Record<string, string>): Proc {
  const child = spawn(join(dir, 'node_modules', '.bin', bin), args, {
    cwd: dir,
    env: env(extraEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = keepOutput(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The emulator, the batcher and the collector of a project, as their installed bins. */
async function startPipeline(dir: string, prefix: string) {
  const emulator = start(dir, 'nightshift-emulator', ['--port', '0'], {});
  const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(emulator.out())?.[1], {
    timeoutMs: 20_000,
    what: `nightshift-emulator to listen (${emulator.out()})`,
  });
  const roleEnv = {
    REDIS_URL: redis.url,
    NIGHTSHIFT_PREFIX: prefix,
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: url,
    NIGHTSHIFT_TICK_MS: '200',
    NIGHTSHIFT_MAX_WAIT_MS: '200',
    NIGHTSHIFT_POLL_MS: '200',
    NIGHTSHIFT_LOG_LEVEL: 'warn',
  };
  const apiPort = await freePort();
  const roles = [
    start(dir, 'nightshift-batcher', [], roleEnv),
    start(dir, 'nightshift-collector', [], roleEnv),
    start(dir, 'nightshift-api', [], { ...roleEnv, NIGHTSHIFT_API_PORT: String(apiPort) }),
    start(dir, 'nightshift-webhooks', [], { ...roleEnv, NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE: 'true' }),
  ];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitFor(() => /API listening/.test(roles[2]!.out()), {
    timeoutMs: 20_000,
    what: `nightshift-api to listen (${roles[2]!.out()})`,
  });
  return {
    url,
    apiUrl,
    /** Each role's exit code after SIGTERM and what it printed. */
    stop: async () => {
      const codes = [];
      for (const p of [...roles, emulator]) {
        await p.stop();
        codes.push({ code: p.child.exitCode, out: p.out() });
      }
      return codes;
    },
  };
}

const LABELS = ['invoice', 'contract', 'resume', 'support-ticket', 'newsletter'];

describe.each(['highest', 'lowest'] as const)('installed with the %s peers', (which) => {
  const prefix = which === 'highest' ? 'nightshift' : 'nightshift-lowest';
  const serviceEnv = () => ({ REDIS_URL: redis.url, NIGHTSHIFT_PREFIX: prefix });

  it("has no workspace link, no tsx, no @nightshift/testing, and the libraries share the service's peers", async () => {
    const dir = projects[which];
    const modules = join(dir, 'node_modules');
    expect(existsSync(join(modules, 'tsx'))).toBe(false);
    expect(existsSync(join(modules, '@nightshift', 'testing'))).toBe(false);
    await run('npm', ['ls', '--all'], dir); // fails on a missing or out-of-range peer
    const version = (path: string) => JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).version;
    for (const [peer, wanted] of Object.entries(PROJECTS[which])) {
      expect(version(join(modules, peer)), peer).toBe(wanted);
      // npm nests a second copy under a package only when the top-level one does not fit it.
      for (const lib of LIBRARIES)
        expect(existsSync(join(modules, '@nightshift', lib, 'node_modules', peer))).toBe(false);
    }
    const producer = JSON.parse(
      readFileSync(join(modules, '@nightshift', 'producer', 'package.json'), 'utf8'),
    );
    expect(producer.dependencies['@nightshift/store']).toMatch(/^\d+\.\d+\.\d+$/); // no workspace: left
  });

  it('compiles the example and a service passing its own clients with plain tsc (strict, nodenext, skipLibCheck false)', async () => {
    const dir = projects[which];
    await run(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', '.'], dir);
    expect(existsSync(join(dir, 'dist', 'classify.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist', 'require-types.cjs'))).toBe(true);
  }, 120_000);

  it('serves an ESM service, the example, a service with its own clients and a CommonJS service', async () => {
    const dir = projects[which];
    const pipeline = await startPipeline(dir, prefix);
    let exits: { code: number | null; out: string }[] = [];
    try {
      // 1. Plain ESM: results through createResultWorker.
      const esm = lastJson((await run('node', ['esm-service.mjs'], dir, serviceEnv())).stdout);
      expect(esm.enqueued.map((r: { outcome: string }) => r.outcome)).toEqual(['queued', 'queued', 'queued']);
      expect(esm.received.map((r: { metadata: { note: number } }) => r.metadata.note).sort()).toEqual([
        0, 1, 2,
      ]);
      for (const r of esm.received) {
        expect(r.mode).toBe('batch');
        expect(r.batchId).toMatch(/^msgbatch_/);
        expect(r.text.length).toBeGreaterThan(0);
        expect(r.cost).toBeGreaterThan(0);
      }
      expect(esm.states).toEqual(['succeeded', 'succeeded', 'succeeded']);

      // 2. The example, compiled by tsc above: one label per document, the same on a second run.
      if (which === 'highest') {
        const first = (await run('node', ['dist/classify.js'], dir, serviceEnv())).stdout;
        const labelled = [...first.matchAll(/^(doc-\d): (\S+)$/gm)].map((m) => [m[1], m[2]]);
        expect(labelled.map(([doc]) => doc)).toEqual(['doc-1', 'doc-2', 'doc-3', 'doc-4', 'doc-5', 'doc-6']);
        for (const [, label] of labelled) expect(LABELS).toContain(label);
        expect(Number(/Total cost: \$([\d.]+)/.exec(first)?.[1])).toBeGreaterThan(0);
        const again = (await run('node', ['dist/classify.js'], dir, serviceEnv())).stdout;
        expect([...again.matchAll(/^(doc-\d): (\S+)$/gm)].map((m) => [m[1], m[2]])).toEqual(labelled);
      }

      // The service's own ioredis and SDK clients (the peers), the SDK's on the real-time path.
      const ownEnv = { ...serviceEnv(), ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: pipeline.url };
      const own = lastJson((await run('node', ['dist/own-clients.js'], dir, ownEnv)).stdout);
      expect(own).toEqual({ outcome: 'realtime', state: 'succeeded' });

      // 3. CommonJS: require(), a typed error, then getStatus through the pipeline.
      const cjs = lastJson((await run('node', ['cjs-service.cjs'], dir, serviceEnv())).stdout);
      expect(cjs.invalid).toMatchObject({ isValidationError: true, code: 'VALIDATION' });
      expect(cjs.invalid.message).toContain('max_tokens');
      expect(cjs.outcome).toBe('queued');
      expect(cjs.seen[0]).toBe('queued');
      expect(cjs.seen.at(-1)).toBe('succeeded');
      expect(cjs.status).toMatchObject({
        customId: cjs.customId,
        state: 'succeeded',
        feature: 'cjs-service',
      });
      expect(cjs.required).toEqual(PUBLIC.filter((name) => name !== 'producer'));

      // 4. Over HTTP: the installed nightshift-api with a token, results as webhooks from the
      // installed nightshift-webhooks, verified with @nightshift/webhooks/verify.
      const http = lastJson(
        (await run('node', ['http-service.mjs'], dir, { ...serviceEnv(), API_URL: pipeline.apiUrl })).stdout,
      );
      expect(http).toMatchObject({ status: 202, texts: true, openapi: '3.1.0' });
      expect(http.enqueued).toHaveLength(3);
      expect(http.received).toEqual(http.enqueued);
    } finally {
      exits = await pipeline.stop();
    }
    // The roles shut down cleanly on SIGTERM.
    for (const e of exits) expect(e.code, e.out).toBe(0);
  }, 180_000);
});

describe('npx nightshift demo (installed CLI)', () => {
  it('runs the pipeline on a private redis-server and the emulator, to its summary', async () => {
    const closed = await freePort(); // nothing listens there: the demo starts its own redis-server
    const { stdout } = await run(
      'npx',
      ['nightshift', 'demo', '--requests', '20', '--quick'],
      projects.highest,
      {
        REDIS_URL: `redis://127.0.0.1:${closed}`,
        NIGHTSHIFT_BOARD_PORT: '0',
      },
    );
    expect(stdout).toContain('Redis: private redis-server');
    expect(stdout).toContain('API: local emulator');
    expect(stdout).toContain('Enqueued 20 documents to classify (20 new, 0 already known).');
    const results = /results: +(\d+) succeeded, (\d+) dead-lettered/.exec(stdout);
    expect(Number(results?.[1]) + Number(results?.[2])).toBe(20);
    expect(Number(/cost: +\$([\d.]+) at batch price/.exec(stdout)?.[1])).toBeGreaterThan(0);
  }, 120_000);
});
