import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;

function hasDockerCompose(): boolean {
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

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
    for (const service of ['redis', 'batcher', 'collector', 'board']) {
      const block = text.split(new RegExp(`^  ${service}:$`, 'm'))[1]?.split(/^ {2}\w+:$/m)[0] ?? '';
      expect(block, service).toContain('healthcheck:');
    }
    expect(text).not.toMatch(/sk-ant-/);
    expect(text).toContain('"127.0.0.1:3000:3000"');
  });
});
