/**
 * Failed-login limits per user name and per client address, over a sliding window.
 *
 * An attempt counts as a failure from the moment it starts and is un-counted only if it succeeds:
 * otherwise ten parallel guesses would all pass the check before the first one failed. Memory is
 * bounded: each key keeps at most `limit` timestamps and each table at most `maxKeys` keys.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Why an attempt was refused, and when the client may try again. */
export interface RateLimitDenial {
  readonly scope: 'user' | 'address';
  readonly retryAfterSeconds: number;
}

/** Limits from config `auth`, plus knobs for tests. */
export interface RateLimitOptions {
  readonly maxFailuresPerUser: number;
  readonly maxFailuresPerAddress: number;
  readonly windowSeconds: number;
  /** Tracked keys per table; the least recently failed key is forgotten first. */
  readonly maxKeys?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

/** One table: key -> ascending failure timestamps, in least-recently-failed-first order. */
class FailureLog {
  readonly #entries = new Map<string, number[]>();

  constructor(
    private limit: number,
    private windowMs: number,
    private readonly maxKeys: number,
  ) {}

  /** New limits for the next checks; the failures counted so far stay. */
  configure(limit: number, windowMs: number): void {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  /** Milliseconds until the key drops under its limit, or 0 if it is under it now. */
  blockedFor(key: string, now: number): number {
    const times = this.#recent(key, now);
    if (times.length < this.limit) return 0;

    const oldestCounted = times[times.length - this.limit] as number;
    return Math.max(1, oldestCounted + this.windowMs - now);
  }

  add(key: string, now: number): void {
    const times = this.#recent(key, now);
    times.push(now);
    if (times.length > this.limit) times.splice(0, times.length - this.limit);

    // Re-insert so that Map order stays least-recently-failed first.
    this.#entries.delete(key);
    this.#evict(now);
    this.#entries.set(key, times);
  }

  /** Un-counts the newest failure of the key (an attempt that turned out to succeed). */
  removeLatest(key: string): void {
    const times = this.#entries.get(key);
    times?.pop();
    if (times?.length === 0) this.#entries.delete(key);
  }

  clear(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #recent(key: string, now: number): number[] {
    const times = this.#entries.get(key) ?? [];
    const firstLive = times.findIndex((t) => t > now - this.windowMs);
    return firstLive < 0 ? [] : times.slice(firstLive);
  }

  #evict(now: number): void {
    // Map order is stalest first: drop expired keys, then, under pressure from many names or
    // addresses, the stalest live ones. Memory stays bounded; the other table still counts.
    for (const [key, times] of this.#entries) {
      const stale = (times.at(-1) ?? 0) <= now - this.windowMs;
      if (!stale && this.#entries.size < this.maxKeys) return;
      this.#entries.delete(key);
    }
  }
}

/** The key an address is counted under: IPv4-mapped IPv6 as IPv4, other IPv6 by their /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(address)) return address;

  // One host usually owns a whole /64, so counting single IPv6 addresses would limit nothing.
  const [head = '', tail = ''] = (address.split('%')[0] ?? '').split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const missing = address.includes('::') ? 8 - left.length - right.length : 0;
  const groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Failed-login limiter per user and per client address. */
export class LoginRateLimiter {
  readonly #users: FailureLog;
  readonly #addresses: FailureLog;
  readonly #now: () => number;

  constructor(options: RateLimitOptions) {
    const windowMs = options.windowSeconds * 1000;
    const maxKeys = options.maxKeys ?? 10_000;
    this.#users = new FailureLog(options.maxFailuresPerUser, windowMs, maxKeys);
    this.#addresses = new FailureLog(options.maxFailuresPerAddress, windowMs, maxKeys);
    this.#now = options.now ?? Date.now;
  }

  /** Refuses an attempt over either limit; otherwise counts it as a failure until `succeeded`. */
  begin(user: string, address: string): RateLimitDenial | null {
    const now = this.#now();
    const key = addressKey(address);
    const userWait = this.#users.blockedFor(user, now);
    if (userWait > 0) return { scope: 'user', retryAfterSeconds: Math.ceil(userWait / 1000) };

    const addressWait = this.#addresses.blockedFor(key, now);
    if (addressWait > 0) {
      return { scope: 'address', retryAfterSeconds: Math.ceil(addressWait / 1000) };
    }

    this.#users.add(user, now);
    this.#addresses.add(key, now);
    return null;
  }

  /** New limits (a config reload); failures already counted still count under them. */
  configure(options: Omit<RateLimitOptions, 'maxKeys' | 'now'>): void {
    const windowMs = options.windowSeconds * 1000;
    this.#users.configure(options.maxFailuresPerUser, windowMs);
    this.#addresses.configure(options.maxFailuresPerAddress, windowMs);
  }

  /** A successful login: clears the user's failures and un-counts this attempt's address entry. */
  succeeded(user: string, address: string): void {
    this.#users.clear(user);
    this.#addresses.removeLatest(addressKey(address));
  }

  /** Tracked keys, for tests and metrics. */
  get trackedKeys(): { users: number; addresses: number } {
    return { users: this.#users.size, addresses: this.#addresses.size };
  }
}
