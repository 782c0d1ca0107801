import { createHash, randomBytes } from 'node:crypto';
import {
  type ApiTokenRecord,
  type FieldIssue,
  NAME_PATTERN,
  type TokenScope,
  ValidationError,
} from '@nightshift/shared';
import type { RedisClient } from './connection.js';
import { coreOf } from './core.js';
import type { Store } from './store.js';

/** `nsk_` and 43 base64url characters: 256 random bits. */
const TOKEN_PATTERN = /^nsk_[A-Za-z0-9_-]{43}$/;

/**
 * SHA-256 of a token, hex: how a token is stored and found. Not bcrypt/scrypt on purpose: those
 * slow hashes protect guessable passwords, while these tokens are 256 random bits (no dictionary, no
 * feasible brute force whatever the hash rate), and a salted slow hash would cost ~100 ms of CPU
 * per API call and could not be looked up by value. A leaked `api-tokens` hash still gives nobody
 * a working token.
 */
export const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** True when the scope lets a token touch this feature and partition. */
export function scopeAllows(scope: TokenScope, feature: string, partition?: string): boolean {
  if (scope.features.length && !scope.features.includes(feature)) return false;
  if (partition !== undefined && scope.partitions.length && !scope.partitions.includes(partition))
    return false;
  return true;
}

/**
 * Per-service tokens of the HTTP API, stored hashed (`api-tokens`: sha256 → record). A token is
 * shown once, when it is created; `list` shows ids, names and scopes only.
 */
export class ApiTokens {
  private readonly redis: RedisClient;
  private readonly key: string;

  constructor(store: Store) {
    const { redis, keys } = coreOf(store);
    this.redis = redis;
    this.key = keys.apiTokens;
  }

  /** Makes a token scoped to features and partitions (empty: any). Returns the token once. */
  async create(
    input: { name: string; features?: string[]; partitions?: string[] },
    now = Date.now(),
  ): Promise<{ token: string; record: ApiTokenRecord }> {
    const issues: FieldIssue[] = [];
    if (typeof input.name !== 'string' || !NAME_PATTERN.test(input.name))
      issues.push({ field: 'name', message: 'must be 1–64 of A-Z a-z 0-9 _ . - (e.g. "billing-service")' });
    for (const field of ['features', 'partitions'] as const) {
      const list = input[field] ?? [];
      if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || !NAME_PATTERN.test(v)))
        issues.push({ field, message: 'each must be 1–64 of A-Z a-z 0-9 _ . -' });
    }
    if (issues.length) throw new ValidationError(issues);
    const token = `nsk_${randomBytes(32).toString('base64url')}`;
    const record: ApiTokenRecord = {
      id: randomBytes(6).toString('hex'),
      name: input.name,
      features: [...new Set(input.features ?? [])],
      partitions: [...new Set(input.partitions ?? [])],
      createdAt: now,
    };
    await this.redis.hset(this.key, hashToken(token), JSON.stringify(record));
    return { token, record };
  }

  /** Every token's record (never the token), oldest first. */
  async list(): Promise<ApiTokenRecord[]> {
    const all = await this.redis.hvals(this.key);
    return all.map((v) => JSON.parse(v) as ApiTokenRecord).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Revokes the token with this id, or every token with this name. Returns how many. */
  async revoke(idOrName: string): Promise<number> {
    const all = await this.redis.hgetall(this.key);
    const gone = Object.entries(all)
      .filter(([, v]) => {
        const r = JSON.parse(v) as ApiTokenRecord;
        return r.id === idOrName || r.name === idOrName;
      })
      .map(([hash]) => hash);
    return gone.length ? this.redis.hdel(this.key, ...gone) : 0;
  }

  /** The record of a presented token, or null (malformed, unknown or revoked). One HGET. */
  async verify(token: string): Promise<ApiTokenRecord | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const raw = await this.redis.hget(this.key, hashToken(token));
    return raw ? (JSON.parse(raw) as ApiTokenRecord) : null;
  }

  /** Whether any token exists (the API warns at start-up when it requires tokens and has none). */
  async any(): Promise<boolean> {
    return (await this.redis.hlen(this.key)) > 0;
  }
}
