import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { describe, expect, it } from 'vitest';
import { ROOT } from './scale-helpers.js';

// The image's build context, judged by Docker's own rules: @balena/dockerignore is a port of the
// matcher Docker's CLI uses (moby/patternmatcher: `**`, `!` exceptions, leading `/`, patterns
// matching a directory exclude what is under it), which a hand-written matcher would get subtly
// wrong. `COPY . .` bakes whatever the context holds into the image.
// CommonJS whose typings say `export default`: the factory is both the module and its `default`.
const rules = dockerignore.default().add(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const inContext = (path: string) => !rules.ignores(path);

/** Files of the repository (tracked, and untracked but not git-ignored). */
const repoFiles = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter(Boolean);

describe('the Docker build context (.dockerignore)', () => {
  it('leaves out secrets, logs, git, installed modules and test output wherever they are', () => {
    for (const path of [
      '.env',
      '.env.production',
      '.env.local',
      'packages/board/.env',
      'deploy/prod/.env.secrets',
      '.npmrc',
      'packages/producer/.npmrc',
      'certs/redis-ca.pem',
      'tls/server.key',
      'secrets/board-password',
      'board.log',
      'packages/collector/debug.log',
      'bench/out/chaos/run-1/collector-2.log',
      'Heap.20261120.heapsnapshot',
      '.git/config',
      '.git/objects/pack/pack-1.pack',
      'node_modules/ioredis/package.json',
      'packages/board/node_modules/express/index.js',
      '.ci/vitest-report.json',
      'coverage/lcov.info',
      '.nightshift/demo/dump.rdb',
    ]) {
      expect(inContext(path), path).toBe(false);
    }
  });

  it('keeps what the roles run from: manifests, lockfile, tsconfig and every package source', () => {
    for (const path of ['package.json', 'pnpm-workspace.yaml', 'pnpm-lock.yaml', 'tsconfig.json']) {
      expect(inContext(path), path).toBe(true);
    }
    const sources = repoFiles.filter((f) => /^packages\/[^/]+\/(src\/|package\.json$)/.test(f));
    expect(sources.length).toBeGreaterThan(50);
    for (const path of sources) expect(inContext(path), path).toBe(true);
  });

  it("keeps every source the Dockerfile's COPY instructions name", () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const copies = [...dockerfile.matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(.+)$/gm)].map((m) =>
      m[1]!.trim().split(/\s+/).slice(0, -1),
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const source of copies.flat()) {
      if (source === '.') continue; // the whole context: covered above
      const under = repoFiles.filter((f) => f === source || f.startsWith(`${source.replace(/\/$/, '')}/`));
      expect(under.some(inContext), `COPY ${source}`).toBe(true);
    }
  });

  it('lets no file of the repository into the image that matches a secret or log pattern', () => {
    const risky = repoFiles.filter((f) => /(^|\/)\.env|\.log$|\.pem$|\.key$|(^|\/)\.npmrc$/.test(f));
    expect(risky.filter(inContext)).toEqual([]);
  });
});
