import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type RedisServer, startRedisServer } from './redis-server.js';

const run = promisify(execFile);

/** A throwaway Redis Cluster of `masters` masters (and `replicas` per master), all on 127.0.0.1. */
export interface RedisCluster {
  /** Masters first, then replicas, in the order `redis-cli --cluster create` was given them. */
  nodes: RedisServer[];
  /** `host:port` seed list, as NIGHTSHIFT_REDIS_CLUSTER_NODES takes it. */
  seeds: string[];
  /**
   * Kills (SIGKILL) the master serving `key`'s slot once its replica is in sync, and waits until
   * the replica has taken the slot over and the cluster is ok again; returns both ports. Needs
   * `replicas` ≥ 1.
   */
  killMasterOf(key: string): Promise<{ killed: number; promoted: number }>;
  stop(): Promise<void>;
}

async function waitUntil<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > until) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout.trim();
}

/** The port of the master serving `slot`, as `port` sees the cluster. */
async function masterOfSlot(port: number, slot: number): Promise<number | undefined> {
  for (const line of (await cli(port, 'cluster', 'nodes')).split('\n')) {
    const [, addr, flags, , , , , , ...ranges] = line.split(' ');
    if (!flags?.includes('master') || flags.includes('fail')) continue;
    const serves = ranges.some((r) => {
      const [from, to = from] = r.split('-').map(Number);
      return slot >= (from as number) && slot <= (to as number);
    });
    if (serves) return Number(addr?.split('@')[0]?.split(':')[1]);
  }
  return undefined;
}

/**
 * Starts `masters × (1 + replicas)` redis-server processes with cluster mode on and joins them with
 * `redis-cli --cluster create`. A master that stops answering for 2 s is failed over to its replica.
 * Needs redis-cli on PATH (Debian's redis-tools).
 */
export async function startRedisCluster(masters = 3, { replicas = 0 } = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(
        await startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
            // A replica of a failed master may have to sync from its new master at once.
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      );
    }
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...seeds,
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    // Wait until every node agrees the cluster is ok (slots assigned and gossiped).
    const until = Date.now() + 20_000;
    for (const n of nodes) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(n.port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok') && stdout.includes(`cluster_known_nodes:${nodes.length}`))
          break;
        if (Date.now() > until) throw new Error(`redis cluster node ${n.port} not ok:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const killMasterOf = async (key: string) => {
      const first = nodes[0] as RedisServer;
      const slot = Number(await cli(first.port, 'cluster', 'keyslot', key));
      const killed = await masterOfSlot(first.port, slot);
      const victim = nodes.find((n) => n.port === killed);
      if (!victim) throw new Error(`no master serves slot ${slot}`);
      const myId = await cli(victim.port, 'cluster', 'myid');
      const replicaPorts: number[] = [];
      for (const n of nodes) {
        if (n === victim) continue;
        const info = await cli(n.port, 'info', 'replication');
        if (info.includes(`master_port:${victim.port}`)) replicaPorts.push(n.port);
      }
      if (replicaPorts.length === 0) throw new Error(`master ${victim.port} (${myId}) has no replica`);
      for (const p of replicaPorts) {
        await waitUntil(
          async () => (await cli(p, 'info', 'replication')).includes('master_link_status:up'),
          `replica ${p} in sync`,
        );
      }
      await victim.kill9();
      const alive = nodes.filter((n) => n !== victim);
      const promoted = await waitUntil(async () => {
        const port = await masterOfSlot((alive[0] as RedisServer).port, slot);
        if (port === undefined || port === victim.port) return undefined;
        const info = await cli(port, 'cluster', 'info');
        return info.includes('cluster_state:ok') ? port : undefined;
      }, `a replica serving slot ${slot}`);
      return { killed: victim.port, promoted };
    };
    return {
      nodes,
      seeds,
      killMasterOf,
      stop: async () => {
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}
