/**
 * Login as a fixed sequence of small checks, each refusing with an SksdError:
 *
 *   1. input: a valid Unix name, a password without NUL            -> bad_credentials
 *   2. rate limit per user and per client address                  -> too_many_attempts
 *   3. name policy: denyUsers and single-user mode (onlyUser)      -> bad_credentials, no PAM
 *   4. PAM: pam_authenticate, then pam_acct_mgmt                   -> bad_credentials
 *   5. NSS lookup, then allowUsers / allowGroups                   -> forbidden
 *   6. a session token
 *
 * Which checks run before PAM, and what a refusal says (a decision, not an accident):
 * - A name refused by step 3 never reaches PAM, so sksd can never be a password oracle for root
 *   or a service account, and such attempts cost no PAM thread. Since the password was not
 *   checked, the answer must not depend on it: bad_credentials, after a delay like PAM's fail
 *   delay so that timing does not tell "denied" from "wrong password" either. In single-user mode
 *   PAM could not check another user's password anyway (unix_chkpwd only checks the caller's).
 * - The allow lists say who may use this daemon among the host's valid users. They are checked
 *   after a correct password, so forbidden is only ever said to someone who proved who they are;
 *   with a wrong password a not-allowed user gets bad_credentials like everyone else.
 * - Wrong password, unknown user, locked and expired accounts share bad_credentials on purpose:
 *   the client learns nothing about which; the log gets the real reason.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { SksdError } from '../rpc/errors.js';
import { PamUnavailableError, type PamResult } from './pam.js';
import { LoginRateLimiter } from './rate-limit.js';
import { SessionStore, tokenTag, type ResumedSession } from './sessions.js';
import { lookupUser, type UserAccount } from './users.js';

/** The `auth` section of the config. */
export type AuthConfig = Config['auth'];

/** What login needs from PAM; PamAuthenticator is the real one. */
export interface PasswordChecker {
  authenticate(user: string, password: string, rhost?: string): Promise<PamResult>;
}

/** How to build a LoginService. */
export interface LoginServiceOptions {
  readonly auth: AuthConfig;
  readonly pam: PasswordChecker;
  readonly logger: Logger;
  /** Single-user mode (daemon not running as root): only this user may log in. */
  readonly onlyUser?: string;
  /** Milliseconds since the epoch, for sessions and rate limits; injectable for tests. */
  readonly now?: () => number;
  /** NSS lookup; src/auth/users.ts unless a test substitutes it. */
  readonly lookup?: (name: string) => Promise<UserAccount | null>;
  /** Delay before refusing a name without PAM, to match PAM's fail delay (default 2000). */
  readonly refusalDelayMs?: number;
}

/** A login attempt: the client's fields and the address it connected from. */
export interface LoginRequest {
  readonly user: string;
  readonly password: string;
  readonly address: string;
}

/** A successful login. */
export interface LoginResult {
  readonly user: UserAccount;
  readonly token: string;
  readonly expiresAt: Date;
}

const USER_NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;

function refuse(name: 'bad_credentials' | 'forbidden', logDetail: string): SksdError {
  return new SksdError(name, { logDetail });
}

function pamRefusal(result: PamResult): SksdError {
  const logDetail = `${result.step}: ${result.text} (PAM code ${result.code})`;
  if (result.kind === 'error') return new SksdError('internal_error', { logDetail });
  return refuse('bad_credentials', `${result.kind} at ${logDetail}`);
}

/** Logs users in and keeps their sessions; the RPC handlers of auth.* call it. */
export class LoginService {
  /** The session store; the daemon may call `sessions.prune()` on a timer. */
  readonly sessions: SessionStore;
  #auth: AuthConfig;
  readonly #pam: PasswordChecker;
  readonly #log: Logger;
  readonly #limiter: LoginRateLimiter;
  readonly #lookup: (name: string) => Promise<UserAccount | null>;
  readonly #onlyUser: string | undefined;
  readonly #refusalDelayMs: number;

  constructor(options: LoginServiceOptions) {
    const { auth, now } = options;
    this.#auth = auth;
    this.#pam = options.pam;
    this.#log = options.logger.child({ component: 'login' });
    this.#lookup = options.lookup ?? lookupUser;
    this.#onlyUser = options.onlyUser;
    this.#refusalDelayMs = options.refusalDelayMs ?? 2000;
    this.sessions = new SessionStore({ ttlSeconds: auth.sessionTtl, now });
    this.#limiter = new LoginRateLimiter({
      maxFailuresPerUser: auth.maxFailuresPerUser,
      maxFailuresPerAddress: auth.maxFailuresPerAddress,
      windowSeconds: auth.failureWindow,
      now,
    });
  }

  /**
   * Puts new auth settings in force (a config reload): allow and deny lists for the next login,
   * failure limits with the counts kept, the session lifetime for new sessions. The PAM service
   * and pool size are not read here; they need a restart.
   */
  reconfigure(auth: AuthConfig): void {
    this.#auth = auth;
    this.sessions.setTtlSeconds(auth.sessionTtl);
    this.#limiter.configure({
      maxFailuresPerUser: auth.maxFailuresPerUser,
      maxFailuresPerAddress: auth.maxFailuresPerAddress,
      windowSeconds: auth.failureWindow,
    });
  }

  /** Checks the login; resolves with a new session or rejects with an SksdError. */
  async login(request: LoginRequest): Promise<LoginResult> {
    const validName = typeof request.user === 'string' && isUserName(request.user);
    // Only a well-formed name goes into the log; raw client input never does.
    const who = validName ? { user: request.user } : { user: null, invalidName: true };
    const log = this.#log.child({ ...who, address: request.address });

    try {
      const result = await this.#check(request, validName);
      log.info({ outcome: 'ok', session: tokenTag(result.token) }, 'login succeeded');
      return result;
    } catch (error) {
      const refusal =
        error instanceof SksdError ? error : new SksdError('internal_error', { cause: error });
      const detail = refusal.logDetail ?? (error instanceof Error ? error.message : 'unknown');
      const fields = { outcome: refusal.errorName, reason: detail };
      if (refusal.errorName === 'internal_error') {
        log.error({ ...fields, err: refusal.cause }, 'login failed');
      } else {
        log.warn(fields, 'login refused');
      }
      throw refusal;
    }
  }

  /** The session of a token; throws invalid_token when unknown or expired. */
  resume(token: string): ResumedSession {
    const session = this.sessions.resume(token);
    if (session === null) throw new SksdError('invalid_token');

    return session;
  }

  /** Ends the session of a token; a no-op for an unknown one. */
  logout(token: string): void {
    const session = this.sessions.resume(token);
    if (!this.sessions.revoke(token)) return;

    this.#log.info({ user: session?.user.name, session: tokenTag(token) }, 'logout');
  }

  async #check(request: LoginRequest, validName: boolean): Promise<LoginResult> {
    const { user, password, address } = request;
    if (!validName) throw refuse('bad_credentials', 'not a valid user name');
    if (typeof password !== 'string' || password === '' || password.includes('\0')) {
      throw refuse('bad_credentials', 'empty password or NUL in password; PAM not called');
    }

    const denial = this.#limiter.begin(user, address);
    if (denial !== null) {
      const logDetail = `over the ${denial.scope} failure limit`;
      const data = { retryAfter: denial.retryAfterSeconds };
      throw new SksdError('too_many_attempts', { logDetail, data });
    }

    const nameRefusal = this.#refusedByName(user);
    if (nameRefusal !== null) {
      await this.#refusalDelay();
      throw refuse('bad_credentials', `${nameRefusal}; PAM not called`);
    }

    const pam = await this.#authenticate(user, password, address);
    if (pam.kind !== 'ok') throw pamRefusal(pam);

    const account = await this.#lookup(user);
    if (account === null) throw refuse('bad_credentials', 'PAM accepted, but NSS has no such user');
    if (!this.#allowed(account)) throw refuse('forbidden', 'not in auth.allowUsers or allowGroups');

    this.#limiter.succeeded(user, address);
    const session = this.sessions.issue(account);
    return { user: account, ...session };
  }

  #refusedByName(user: string): string | null {
    if (this.#auth.denyUsers.includes(user)) return 'user is in auth.denyUsers';
    if (this.#onlyUser !== undefined && user !== this.#onlyUser) {
      return `single-user mode: only ${this.#onlyUser} may log in`;
    }
    return null;
  }

  async #authenticate(user: string, password: string, address: string): Promise<PamResult> {
    try {
      return await this.#pam.authenticate(user, password, address);
    } catch (error) {
      if (!(error instanceof PamUnavailableError)) throw error;

      // A full queue means many logins at once: tell the client to wait, like the rate limit.
      const name = error.reason === 'queue_full' ? 'too_many_attempts' : 'internal_error';
      throw new SksdError(name, { logDetail: error.message, cause: error });
    }
  }

  #allowed(account: UserAccount): boolean {
    const { allowUsers, allowGroups } = this.#auth;
    if (allowUsers.length === 0 && allowGroups.length === 0) return true;

    return (
      allowUsers.includes(account.name) || account.groupNames.some((g) => allowGroups.includes(g))
    );
  }

  async #refusalDelay(): Promise<void> {
    if (this.#refusalDelayMs <= 0) return;

    // Jitter like pam_faildelay's, so that the delay has no tell-tale fixed length.
    await sleep(this.#refusalDelayMs * (0.75 + Math.random() * 0.5));
  }
}

/** True for a syntactically valid Unix user name (at most 32 characters). */
export function isUserName(name: string): boolean {
  return name.length <= 32 && USER_NAME.test(name);
}
