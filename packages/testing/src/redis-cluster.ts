import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type RedisServer, startRedisServer } from './redis-server.js';

const run = promisify(execFile);

/** A throwaway Redis Cluster of `masters` nodes (no replicas), all on 127.0.0.1. */
export interface RedisCluster {
  nodes: RedisServer[];
  /** `host:port` seed list, as NIGHTSHIFT_REDIS_CLUSTER_NODES takes it. */
  seeds: string[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-server processes with cluster mode on and joins them with
 * `redis-cli --cluster create`. Needs redis-cli on PATH (Debian's redis-tools).
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      );
    }
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '0', '--cluster-yes']);
    // Wait until every node agrees the cluster is ok (slots assigned and gossiped).
    const until = Date.now() + 20_000;
    for (const n of nodes) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(n.port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > until) throw new Error(`redis cluster node ${n.port} not ok:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      nodes,
      seeds,
      stop: async () => {
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}
