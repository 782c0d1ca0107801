import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface RedisServerOptions {
  /** Turn on AOF persistence (off by default: tests that need durability ask for it). */
  appendonly?: boolean;
  appendfsync?: 'always' | 'everysec' | 'no';
  /** Extra `--name value` arguments. */
  args?: string[];
  /** Binary: redis-server by default, or valkey-server. */
  binary?: string;
}

/** A throwaway redis-server owned by one test file: its own port, its own temp dir. */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Stop with SIGKILL, as a crash would (data since the last fsync may be lost). */
  kill9(): Promise<void>;
  /** Start again on the same port and data dir. */
  restart(): Promise<void>;
  /** Stop and delete the data dir. */
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let buf = '';
    sock.setTimeout(500);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        sock.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`redis-server: timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts redis-server on a free port in a fresh temp dir. Never touches any other Redis.
 * Persistence is off unless asked for, as in the machine's own Redis.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    '--appendfsync',
    opts.appendfsync ?? 'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--protected-mode',
    'no',
    '--loglevel',
    'warning',
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(opts.binary ?? 'redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', (err) => {
      throw new Error(`cannot start ${opts.binary ?? 'redis-server'}: ${err.message}`);
    });
    await waitUntil(() => ping(port), `redis on port ${port} answers PING`);
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await launch();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill9: kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
