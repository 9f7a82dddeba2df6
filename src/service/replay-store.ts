// "Each nonce is accepted once": claim() atomically marks a nonce used and says whether it was unused.
// In memory for one process; Redis (SET NX PX) when replicas share the load. Fails closed: a store
// that cannot answer refuses the nonce (503), it never lets one through twice.
import { ServiceError } from './errors.js';

export interface ReplayStore {
  /** True if `id` was not claimed before; it stays claimed for ttlMs. */
  claim(id: string, ttlMs: number): Promise<boolean>;
  /** Answers when the store is reachable (for /healthz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  readonly kind: 'memory' | 'redis';
}

export class MemoryReplayStore implements ReplayStore {
  readonly kind = 'memory';
  readonly #used = new Map<string, number>();
  #sweepAt = 0;

  async claim(id: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    // Expired entries go in bulk at most once a second, so the map never outgrows a nonce lifetime of traffic.
    if (now >= this.#sweepAt) {
      for (const [k, exp] of this.#used) if (exp <= now) this.#used.delete(k);
      this.#sweepAt = now + 1000;
    }
    const exp = this.#used.get(id);
    if (exp !== undefined && exp > now) return false;
    this.#used.set(id, now + ttlMs);
    return true;
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {
    this.#used.clear();
  }
}

/** The subset of ioredis used here. */
interface RedisClient {
  set(key: string, value: string, px: 'PX', ttl: number, nx: 'NX'): Promise<'OK' | null>;
  ping(): Promise<string>;
  quit(): Promise<unknown>;
  disconnect(): void;
  once(event: string, f: (...a: unknown[]) => void): unknown;
  on(event: string, f: (...a: unknown[]) => void): unknown;
  status: string;
}

const KEY_PREFIX = 'cvm-attest:nonce:';

export class RedisReplayStore implements ReplayStore {
  readonly kind = 'redis';
  readonly #client: RedisClient;
  readonly #onError: (e: Error) => void;
  private constructor(client: RedisClient, onError: (e: Error) => void) {
    this.#client = client;
    this.#onError = onError;
  }

  /** Connects to redis://[user:pass@]HOST:PORT[/db] or rediss:// (TLS, Azure Cache for Redis); waits until ready or throws. */
  static async connect(url: string, onError: (e: Error) => void = () => {}, timeoutMs = 5000): Promise<RedisReplayStore> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ServiceError('E_REPLAY_STORE', '--replay-store must be a redis:// or rediss:// URL', 400);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
      throw new ServiceError('E_REPLAY_STORE', '--replay-store must be a redis:// or rediss:// URL', 400);
    // ioredis is CommonJS: under the bundler its exports arrive on `default`.
    const m = (await import('ioredis')) as unknown as { Redis?: typeof import('ioredis').Redis; default?: { Redis?: typeof import('ioredis').Redis } };
    const Redis = m.Redis ?? m.default!.Redis!;
    // No offline queue and one try per command: while Redis is away, claims fail at once (503) instead of piling up.
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      connectTimeout: timeoutMs,
      lazyConnect: true,
    }) as unknown as RedisClient & { connect(): Promise<void> };
    client.on('error', (e) => onError(e as Error));
    const store = new RedisReplayStore(client, onError);
    try {
      await client.connect();
    } catch (e) {
      client.disconnect();
      throw new ServiceError('E_REPLAY_STORE', `replay store ${u.host} is unreachable: ${(e as Error).message}`, 503, { cause: e });
    }
    return store;
  }

  async claim(id: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.#client.set(KEY_PREFIX + id, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
    } catch (e) {
      this.#onError(e as Error);
      throw new ServiceError('E_REPLAY_STORE', 'the replay store is unavailable: the nonce cannot be checked, try again', 503, { cause: e });
    }
  }
  async ping(): Promise<boolean> {
    try {
      return (await this.#client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
