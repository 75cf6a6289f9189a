/**
 * Session tokens: 32 random bytes, base64url, handed to the client once. The daemon keeps only
 * their SHA-256, so a heap dump or a log slip does not yield a usable token. Sessions live in
 * memory: a daemon restart logs everyone out, which is the safe direction.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { UserAccount } from './users.js';

/** A new session as the client gets it. */
export interface IssuedSession {
  readonly token: string;
  readonly expiresAt: Date;
}

/** A session found by its token. */
export interface ResumedSession {
  readonly user: UserAccount;
  readonly expiresAt: Date;
}

/** Options of SessionStore. */
export interface SessionStoreOptions {
  /** Lifetime from login, config `auth.sessionTtl`; not extended by use. */
  readonly ttlSeconds: number;
  /** Sessions kept at most; when full, expired ones go first, then the oldest. */
  readonly maxSessions?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

interface Entry {
  readonly user: UserAccount;
  readonly expiresAt: number;
}

// 32 bytes in base64url without padding.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** A short, non-reversible tag of a token for log lines (first 12 characters of its hash). */
export function tokenTag(token: string): string {
  return digest(token).slice(0, 12);
}

/** In-memory sessions keyed by token hash. */
export class SessionStore {
  // Keyed by hash: the lookup compares hashes, so its timing tells nothing about the token.
  readonly #entries = new Map<string, Entry>();
  #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: SessionStoreOptions) {
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#max = options.maxSessions ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** A new lifetime for sessions issued from now on (a config reload); issued ones keep theirs. */
  setTtlSeconds(seconds: number): void {
    this.#ttlMs = seconds * 1000;
  }

  /** Starts a session for the user and returns the only copy of its token. */
  issue(user: UserAccount): IssuedSession {
    if (this.#entries.size >= this.#max) this.prune();
    // Still full: drop the oldest, which with one fixed TTL is also the next to expire.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#max) break;
      this.#entries.delete(key);
    }

    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.#now() + this.#ttlMs;
    this.#entries.set(digest(token), { user, expiresAt });
    return { token, expiresAt: new Date(expiresAt) };
  }

  /** The session's user and expiry, or null for an unknown, malformed or expired token. */
  resume(token: string): ResumedSession | null {
    if (!TOKEN_SHAPE.test(token)) return null;

    const key = digest(token);
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;

    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return null;
    }
    return { user: entry.user, expiresAt: new Date(entry.expiresAt) };
  }

  /** Ends a session (logout); false if there was none. */
  revoke(token: string): boolean {
    return TOKEN_SHAPE.test(token) && this.#entries.delete(digest(token));
  }

  /** Ends every session of a user; returns how many there were. */
  revokeUser(name: string): number {
    let count = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.user.name !== name) continue;
      this.#entries.delete(key);
      count++;
    }
    return count;
  }

  /** Forgets expired sessions; the daemon may call it on a timer. Returns how many went. */
  prune(): number {
    const now = this.#now();
    let count = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) continue;
      this.#entries.delete(key);
      count++;
    }
    return count;
  }

  /** Sessions held, expired ones not yet pruned included. */
  get size(): number {
    return this.#entries.size;
  }
}
