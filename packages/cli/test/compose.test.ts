import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hasProgram } from '../src/demo/local-redis.js';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;

const hasDockerCompose = () => hasProgram('docker-compose', ['version']);

describe('docker-compose.yml', () => {
  it.skipIf(!hasDockerCompose())('validates with docker-compose config', async () => {
    const { stdout } = await run('docker-compose', ['config'], {
      cwd: root,
      env: { ...process.env, ANTHROPIC_API_KEY: '' },
    });
    // The normalized file keeps what BullMQ needs of Redis and the board's localhost-only port.
    expect(stdout).toContain('noeviction');
    expect(stdout).toMatch(/--appendonly\s*\n?\s*-?\s*['"]?yes/);
    expect(stdout).toMatch(/host_ip: 127\.0\.0\.1|127\.0\.0\.1:3000:3000/);
  });

  it('gives every service a health check and configures roles only through the environment', () => {
    const text = readFileSync(`${root}docker-compose.yml`, 'utf8');
    for (const service of ['redis', 'batcher', 'collector', 'board', 'api', 'webhooks', 'prometheus']) {
      const block = text.split(new RegExp(`^  ${service}:$`, 'm'))[1]?.split(/^ {2}\w+:$/m)[0] ?? '';
      expect(block, service).toContain('healthcheck:');
    }
    expect(text).not.toMatch(/sk-ant-/);
    expect(text).toContain('"127.0.0.1:3000:3000"');
    expect(text).toContain('"127.0.0.1:3100:3100"');
  });

  it('runs each role as node on the built JavaScript of its package bin, under tini, as a non-root user', () => {
    const compose = readFileSync(`${root}docker-compose.yml`, 'utf8');
    for (const role of ['batcher', 'collector', 'board', 'api', 'webhooks']) {
      const bin = JSON.parse(readFileSync(`${root}packages/${role}/package.json`, 'utf8')).bin;
      const command = `command: ["node", "node_modules/@nightshift/${role}/${bin[`nightshift-${role}`].slice(2)}"]`;
      expect(compose, role).toContain(command);
    }
    expect(compose).toContain('test: ["CMD", "node", "dist/bin.js", "health", "batcher"]');
    expect(compose).not.toMatch(/tsx|\.ts"/);
    const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    expect(stages[0]).toContain('deploy --prod /app');
    const runtime = stages[1]!;
    expect(runtime).toContain('COPY --from=build /app ./');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(runtime).not.toMatch(/pnpm|tsx/);
  });
});
