import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { type RedisServer, startRedisServer } from '@nightshift/testing';
import { Redis } from 'ioredis';

/** The fsync policies the chaos runs exercise. */
export type Fsync = 'always' | 'everysec';

/** One Redis fault as it happened, for the report and the invariant checker's allowances. */
export interface RedisFaultRecord {
  kind: 'crash' | 'power-loss' | 'outage' | 'freeze';
  /** When the fault started (kill or SIGSTOP), ms. */
  at: number;
  /** When Redis answered again, ms. */
  back: number;
  /**
   * power-loss only: writes acknowledged after this time were cut from the AOF (the un-fsynced tail
   * an OS crash would lose under `appendfsync everysec`).
   */
  lossFrom?: number;
  /** power-loss only: AOF bytes cut. */
  bytesLost?: number;
}

interface Sample {
  at: number;
  size: number;
}

/**
 * A throwaway redis-server with AOF (from `@nightshift/testing`) plus the faults the chaos runs
 * inject: kill -9 and restart, an outage (down for a while), a freeze (SIGSTOP/SIGCONT: the
 * connection stays open but nothing answers), and a simulated power loss for `everysec` (kill -9,
 * then the AOF is cut back to its size of up to a second before the kill, which is what an OS crash
 * loses when only the last fsync is on disk). Automatic AOF rewrites are off so the incremental
 * file we cut is the one Redis appends to.
 */
export class ChaosRedis {
  readonly faults: RedisFaultRecord[] = [];
  private samples: Sample[] = [];
  private sampler: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: RedisServer,
    readonly fsync: Fsync,
  ) {}

  static async start(fsync: Fsync): Promise<ChaosRedis> {
    const server = await startRedisServer({
      appendonly: true,
      appendfsync: fsync,
      args: ['--auto-aof-rewrite-percentage', '0', '--aof-load-truncated', 'yes'],
    });
    const r = new ChaosRedis(server, fsync);
    if (fsync === 'everysec') r.startSampling();
    return r;
  }

  get url(): string {
    return this.server.url;
  }

  /** kill -9, then start again on the same data (nothing acknowledged is lost: page cache survives). */
  async crash(): Promise<RedisFaultRecord> {
    const at = Date.now();
    await this.server.kill9();
    await this.restart();
    return this.record({ kind: 'crash', at, back: Date.now() });
  }

  /**
   * Starts redis-server again. The helper waits 10 s for PING; loading a large AOF on a busy
   * 2-core machine can take longer, so a timeout there is followed by a longer wait of our own.
   */
  private async restart() {
    try {
      await this.server.restart();
    } catch (err) {
      if (!/timed out waiting/.test((err as Error).message)) throw err;
      const c = new Redis(this.server.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      const until = Date.now() + 180_000;
      for (;;) {
        try {
          await c.connect();
          if ((await c.ping()) === 'PONG') break;
        } catch {
          // still loading the AOF (or still starting): try again
        }
        c.disconnect();
        if (Date.now() > until) throw new Error(`redis-server did not come back within 3 minutes: ${err}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      c.disconnect();
    }
  }

  /**
   * everysec only: kill -9, cut the AOF back to its size `lossMs` before the kill (a power loss
   * after the last fsync), restart. Writes acknowledged after `lossFrom` are gone.
   */
  async powerLoss(lossMs: number): Promise<RedisFaultRecord> {
    if (this.fsync !== 'everysec') throw new Error('a power loss is only simulated for appendfsync everysec');
    const at = Date.now();
    await this.server.kill9();
    const file = this.incrFile();
    const size = statSync(file).size;
    const keep = [...this.samples].reverse().find((s) => s.at <= at - lossMs) ?? this.samples[0];
    const cutTo = Math.min(size, keep?.size ?? size);
    truncateSync(file, cutTo);
    this.samples = this.samples.filter((s) => s.at <= (keep?.at ?? 0));
    await this.restart();
    return this.record({
      kind: 'power-loss',
      at,
      back: Date.now(),
      lossFrom: keep?.at ?? at,
      bytesLost: size - cutTo,
    });
  }

  /** kill -9, stay down for `ms`, start again. */
  async outage(ms: number): Promise<RedisFaultRecord> {
    const at = Date.now();
    await this.server.kill9();
    await new Promise((r) => setTimeout(r, ms));
    await this.restart();
    return this.record({ kind: 'outage', at, back: Date.now() });
  }

  /** SIGSTOP for `ms`, then SIGCONT: unreachable without a disconnect. */
  async freeze(ms: number): Promise<RedisFaultRecord> {
    const pid = await this.pid();
    const at = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    return this.record({ kind: 'freeze', at, back: Date.now() });
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    await this.server.stop();
  }

  private record(f: RedisFaultRecord): RedisFaultRecord {
    this.faults.push(f);
    return f;
  }

  private async pid(): Promise<number> {
    const c = new Redis(this.server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await c.connect();
      const info = await c.info('server');
      const m = /process_id:(\d+)/.exec(info);
      if (!m) throw new Error('INFO server has no process_id');
      return Number(m[1]);
    } finally {
      c.disconnect();
    }
  }

  /** The AOF file Redis appends to now (the last incremental file of the manifest). */
  private incrFile(): string {
    const dir = join(this.server.dir, 'appendonlydir');
    const manifest = readdirSync(dir).find((f) => f.endsWith('.manifest'));
    if (!manifest) throw new Error(`no AOF manifest in ${dir}`);
    const incr = readFileSync(join(dir, manifest), 'utf8')
      .split('\n')
      .map((l) => /^file (\S+) seq \d+ type i/.exec(l)?.[1])
      .filter((f): f is string => !!f);
    const last = incr.at(-1);
    if (!last) throw new Error('the AOF manifest lists no incremental file');
    return join(dir, last);
  }

  /** Records the AOF size every 50 ms: where a power loss `lossMs` ago would have cut it. */
  private startSampling() {
    this.sampler = setInterval(() => {
      try {
        this.samples.push({ at: Date.now(), size: statSync(this.incrFile()).size });
        if (this.samples.length > 400) this.samples.splice(0, this.samples.length - 400);
      } catch {
        // Redis is down or restarting: no sample this time.
      }
    }, 50);
    this.sampler.unref();
  }
}
