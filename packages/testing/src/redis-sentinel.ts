import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** A throwaway master with replicas, watched by Sentinels (Debian's redis-sentinel), on 127.0.0.1. */
export interface RedisSentinelSet {
  /** The master group name the Sentinels monitor. */
  masterName: string;
  /** Every data node, the first one the master at the start. */
  nodes: RedisServer[];
  /** `host:port` of each Sentinel, as NIGHTSHIFT_REDIS_SENTINELS takes them. */
  sentinels: string[];
  /** The port of the node the Sentinels name as master now. */
  masterPort(): Promise<number>;
  /**
   * Kills the current master with SIGKILL and waits until the Sentinels have promoted a replica;
   * returns the new master's port. The dead node stays down.
   */
  killMaster(): Promise<number>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout.trim();
}

/**
 * Starts one master, `replicas` replicas and `sentinels` Sentinels (quorum: a majority) that
 * declare the master down after 1 s without an answer. Needs redis-sentinel and redis-cli on PATH.
 */
export async function startRedisSentinelSet(
  opts: { replicas?: number; sentinels?: number; masterName?: string } = {},
): Promise<RedisSentinelSet> {
  const masterName = opts.masterName ?? 'mymaster';
  const nodes: RedisServer[] = [];
  const sentinelProcs: { port: number; child: ChildProcess; dir: string }[] = [];
  const stop = async () => {
    await Promise.all(
      sentinelProcs.map(async ({ child, dir }) => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      }),
    );
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    // Any node may be master after a failover: none waits 5 s (the default) before a full sync.
    const args = ['--repl-diskless-sync-delay', '0'];
    nodes.push(await startRedisServer({ args }));
    const first = nodes[0] as RedisServer;
    for (let i = 0; i < (opts.replicas ?? 1); i++) {
      nodes.push(await startRedisServer({ args: [...args, '--replicaof', '127.0.0.1', String(first.port)] }));
    }
    for (const replica of nodes.slice(1)) {
      await waitFor(
        async () => (await cli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
        { what: `replica ${replica.port} in sync with the master` },
      );
    }
    const count = opts.sentinels ?? 3;
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'nightshift-sentinel-'));
      const conf = join(dir, 'sentinel.conf');
      // Sentinel rewrites its config file (it records what it learns), so each gets its own.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'protected-mode no',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${first.port} ${Math.floor(count / 2) + 1}`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const child = spawn('redis-sentinel', [conf, '--loglevel', 'warning'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      sentinelProcs.push({ port, child, dir });
    }
    // Failover needs every Sentinel to know the replicas and the other Sentinels (for the vote).
    for (const s of sentinelProcs) {
      await waitFor(
        async () => {
          const lines = (await cli(s.port, 'sentinel', 'master', masterName).catch(() => '')).split('\n');
          const field = (name: string) => Number(lines[lines.indexOf(name) + 1]);
          return field('num-slaves') === nodes.length - 1 && field('num-other-sentinels') === count - 1;
        },
        { what: `sentinel ${s.port} knows the replicas and the other sentinels`, timeoutMs: 30_000 },
      );
    }
    const masterPort = async () => {
      const out = await cli(sentinelProcs[0]!.port, 'sentinel', 'get-master-addr-by-name', masterName);
      return Number(out.split('\n')[1]);
    };
    return {
      masterName,
      nodes,
      sentinels: sentinelProcs.map((s) => `127.0.0.1:${s.port}`),
      masterPort,
      killMaster: async () => {
        const old = await masterPort();
        const node = nodes.find((n) => n.port === old);
        if (!node) throw new Error(`master ${old} is not one of ours`);
        await node.kill9();
        return waitFor(
          async () => {
            const now = await masterPort();
            if (now === old) return null;
            const role = await cli(now, 'role').catch(() => '');
            return role.startsWith('master') ? now : null;
          },
          { what: 'a replica promoted by the Sentinels', timeoutMs: 30_000 },
        );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
