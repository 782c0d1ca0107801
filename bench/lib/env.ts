import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createRedis, type RedisClient } from '@nightshift/store';
import { type RedisServer, startRedisServer } from '@nightshift/testing';
import { cpuMsFromInfo } from './redis-info.js';

/**
 * What every benchmark runs against: a throwaway redis-server owned by this run (so FLUSHALL between
 * runs is fine; the machine's Redis is never touched) and the emulator with instant processing,
 * in this (the orchestrator) process, never in a measured child. `recordRequests: false` keeps the
 * emulator from holding every request's params after processing.
 */
export class BenchEnv {
  private emulator: Emulator | undefined;

  private constructor(
    readonly server: RedisServer,
    readonly redis: RedisClient,
  ) {}

  static async start(): Promise<BenchEnv> {
    const server = await startRedisServer();
    const redis = createRedis({ url: server.url }, 'worker');
    await redis.ping();
    return new BenchEnv(server, redis);
  }

  get redisUrl(): string {
    return this.server.url;
  }

  /** The emulator's base URL (started by `reset`). */
  get emuUrl(): string {
    if (!this.emulator) throw new Error('BenchEnv: call reset() first');
    return this.emulator.url;
  }

  /** A clean slate: FLUSHALL and a fresh emulator (batches of earlier runs are dropped). */
  async reset(emulatorOpts: { minCacheableTokens?: number } = {}): Promise<void> {
    await this.redis.flushall();
    await this.emulator?.close();
    this.emulator = await startEmulator({ recordRequests: false, quiet: true, ...emulatorOpts });
  }

  /** FLUSHALL only (the emulator keeps its batches: a raw baseline may still read their results). */
  async flushRedis(): Promise<void> {
    await this.redis.flushall();
  }

  /** Redis `INFO memory` used_memory, in bytes. */
  async usedMemory(): Promise<number> {
    const info = await this.redis.info('memory');
    const m = /^used_memory:(\d+)/m.exec(info);
    if (!m) throw new Error('INFO memory has no used_memory line');
    return Number(m[1]);
  }

  /** CPU time redis-server has used so far (user + sys, all threads), ms. */
  async redisCpuMs(): Promise<number> {
    return cpuMsFromInfo(await this.redis.info('cpu'));
  }

  async redisVersion(): Promise<string> {
    const info = await this.redis.info('server');
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  }

  async close(): Promise<void> {
    await this.emulator?.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.server.stop();
  }
}
