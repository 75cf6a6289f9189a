/**
 * LoginService end to end: real Unix users, real PAM through packaging/pam.d/sksd, a pino logger
 * writing into memory so that the test can read every log line.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import {
  LoginService,
  type AuthConfig,
  type LoginRequest,
  type PasswordChecker,
} from '../../src/auth/login.js';
import { PamAuthenticator } from '../../src/auth/pam.js';
import { SksdError } from '../../src/rpc/errors.js';
import {
  createGroup,
  createUser,
  expireUser,
  isRoot,
  lockUser,
  removeAllTestUsers,
  type TestUser,
} from '../helpers/users.js';

const logLines: string[] = [];
const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
const defaults: AuthConfig = ConfigSchema.parse({}).auth;
// Every password this file types, right or wrong: none may ever reach the log.
const typed = new Set<string>();
const wrong = (tag: string) => remember(`wrong-${tag}-${Math.random().toString(36).slice(2)}`);

function remember(password: string): string {
  typed.add(password);
  return password;
}

let realPam: PamAuthenticator;
let pamCalls = 0;
const pam: PasswordChecker = {
  authenticate(user, password, rhost) {
    pamCalls++;
    return realPam.authenticate(user, password, rhost);
  },
};

type Extra = { onlyUser?: string; now?: () => number };

function service(auth: Partial<AuthConfig> = {}, extra: Extra = {}): LoginService {
  const options = { auth: { ...defaults, ...auth }, pam, logger, refusalDelayMs: 0, ...extra };
  return new LoginService(options);
}

/** A login request with the user's right password, or with `password` when given. */
function as(user: TestUser | string, address: string, password?: string): LoginRequest {
  const name = typeof user === 'string' ? user : user.name;
  const typedPassword = password ?? (typeof user === 'string' ? '' : user.password);
  return { user: name, password: typedPassword, address };
}

/** The SksdError a login (or anything) fails with; fails the test if it succeeds. */
async function refusal(attempt: Promise<unknown> | (() => unknown)): Promise<SksdError> {
  const promise = typeof attempt === 'function' ? Promise.resolve().then(attempt) : attempt;
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SksdError);
  return error as SksdError;
}

let alice: TestUser;
let bob: TestUser;
let expired: TestUser;
let locked: TestUser;
let team: string;

beforeAll(() => {
  expect(isRoot(), 'login tests read /etc/shadow and create users: run as root').toBe(true);
  team = createGroup('team');
  alice = createUser({ tag: 'la' });
  bob = createUser({ tag: 'lb', groups: [team] });
  expired = createUser({ tag: 'le' });
  expireUser(expired.name);
  locked = createUser({ tag: 'll' });
  lockUser(locked.name);
  for (const user of [alice, bob, expired, locked]) remember(user.password);
  realPam = new PamAuthenticator({ service: 'sksd', concurrency: defaults.pamConcurrency, logger });
});

afterAll(async () => {
  await realPam?.close();
  removeAllTestUsers();
});

describe('LoginService: password and account', () => {
  it('logs in with the right password, resumes the session and logs out', async () => {
    const login = service();
    const result = await login.login(as(alice, '192.0.2.10'));
    expect(result.user).toMatchObject({ name: alice.name, uid: alice.uid, home: alice.home });
    expect(result.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const minimum = Date.now() + (defaults.sessionTtl - 60) * 1000;
    expect(result.expiresAt.getTime()).toBeGreaterThan(minimum);

    expect(login.resume(result.token).user.name).toBe(alice.name);
    login.logout(result.token);
    expect((await refusal(() => login.resume(result.token))).errorName).toBe('invalid_token');
  });

  it('says bad_credentials: wrong password, unknown user, locked or expired account', async () => {
    const login = service();
    const address = '192.0.2.11';
    const attempts = [
      { request: as(alice, address, wrong('a')), reason: /auth_failed at authenticate/ },
      { request: as('sksdtnobody', address, wrong('n')), reason: /auth_failed at authenticate/ },
      { request: as(locked, address), reason: /auth_failed at authenticate/ },
      { request: as(expired, address), reason: /account_invalid at acct_mgmt/ },
    ];
    const errors = await Promise.all(attempts.map((a) => refusal(login.login(a.request))));
    for (const [i, error] of errors.entries()) {
      expect(error.errorName).toBe('bad_credentials');
      expect(error.toWire().code).toBe(1002);
      expect(error.logDetail).toMatch(attempts[i]!.reason);
    }
  });

  it('refuses root by default without PAM, and asks PAM once config allows root', async () => {
    const before = pamCalls;
    const denied = await refusal(service().login(as('root', '192.0.2.12', wrong('r'))));
    expect(denied.errorName).toBe('bad_credentials');
    expect(denied.logDetail).toMatch(/denyUsers; PAM not called/);
    expect(pamCalls).toBe(before);

    const open = service({ denyUsers: [] });
    const tried = await refusal(open.login(as('root', '192.0.2.12', wrong('r2'))));
    expect(tried.errorName).toBe('bad_credentials');
    expect(pamCalls).toBe(before + 1);
  });

  it('refuses a NUL in the password, or a malformed name, without calling PAM', async () => {
    const before = pamCalls;
    const login = service();
    const withNul = remember(`${alice.password}\0suffix`);
    const nul = await refusal(login.login(as(alice, '192.0.2.13', withNul)));
    expect(nul.errorName).toBe('bad_credentials');
    const bad = await refusal(login.login(as('-rf', '192.0.2.13', alice.password)));
    expect(bad.errorName).toBe('bad_credentials');
    expect(pamCalls).toBe(before);
  });
});

describe('LoginService: rate limits', () => {
  it('refuses a user after maxFailuresPerUser failures, even with the right password', async () => {
    const login = service({ maxFailuresPerUser: 2 });
    const address = '198.51.100.1';
    await Promise.all([1, 2].map(() => refusal(login.login(as(bob, address, wrong('u'))))));
    const before = pamCalls;
    const limited = await refusal(login.login(as(bob, address)));
    expect(limited.errorName).toBe('too_many_attempts');
    const data = limited.toWire().data;
    expect(data).toMatchObject({ name: 'too_many_attempts', retryAfter: expect.any(Number) });
    expect(pamCalls).toBe(before);
  });

  it('refuses an address after maxFailuresPerAddress failures; others still work', async () => {
    const login = service({ maxFailuresPerAddress: 2 });
    const address = '198.51.100.2';
    const guesses = [as(alice, address, wrong('p')), as('sksdtghost', address, wrong('p'))];
    await Promise.all(guesses.map((request) => refusal(login.login(request))));
    const limited = await refusal(login.login(as(bob, address)));
    expect(limited.errorName).toBe('too_many_attempts');
    expect((await login.login(as(bob, '198.51.100.3'))).user.name).toBe(bob.name);
  });
});

describe('LoginService: off the event loop', () => {
  it('keeps timers and file reads prompt while eight wrong passwords sit in PAM', async () => {
    const login = service({ maxFailuresPerUser: 100, maxFailuresPerAddress: 100 });
    let settled = 0;
    const started = performance.now();
    const logins = Array.from({ length: 8 }, (_, i) =>
      refusal(login.login(as(alice, `10.1.0.${i}`, wrong(`s${i}`)))).finally(() => settled++),
    );
    await sleep(150);

    const timerStart = performance.now();
    await sleep(50);
    const timerMs = performance.now() - timerStart;
    const readStart = performance.now();
    // More reads than libuv has threads: a threadpool held by PAM would queue them for seconds.
    await Promise.all(Array.from({ length: 8 }, () => readFile('/etc/os-release')));
    const readMs = performance.now() - readStart;
    expect(settled).toBe(0);

    const errors = await Promise.all(logins);
    const totalMs = performance.now() - started;
    expect(errors.every((e) => e.errorName === 'bad_credentials')).toBe(true);
    expect(timerMs).toBeLessThan(1000);
    expect(readMs).toBeLessThan(1000);
    // Eight fail delays on four PAM threads take two rounds: the logins really were in PAM.
    expect(totalMs).toBeGreaterThan(1500);
    logger.info({ timerMs, readMs, totalMs }, 'event loop measurement');
  });
});

describe('LoginService: who may log in', () => {
  it('allowUsers: listed user gets in, another is forbidden only with right password', async () => {
    const login = service({ allowUsers: [alice.name] });
    const address = '203.0.113.1';
    expect((await login.login(as(alice, address))).user.name).toBe(alice.name);
    expect((await refusal(login.login(as(bob, address)))).errorName).toBe('forbidden');
    const guess = await refusal(login.login(as(bob, address, wrong('b'))));
    expect(guess.errorName).toBe('bad_credentials');
  });

  it('allowGroups: a member gets in, a non-member is forbidden', async () => {
    const login = service({ allowGroups: [team] });
    const address = '203.0.113.2';
    expect((await login.login(as(bob, address))).user.groupNames).toContain(team);
    expect((await refusal(login.login(as(alice, address)))).errorName).toBe('forbidden');
  });

  it('single-user mode lets only that user in, without asking PAM about anyone else', async () => {
    const login = service({}, { onlyUser: alice.name });
    const address = '203.0.113.3';
    expect((await login.login(as(alice, address))).user.uid).toBe(alice.uid);
    const before = pamCalls;
    expect((await refusal(login.login(as(bob, address)))).errorName).toBe('bad_credentials');
    expect(pamCalls).toBe(before);
  });
});

describe('LoginService: sessions and logs', () => {
  it('expires sessions after sessionTtl on the injected clock', async () => {
    const clock = { now: Date.now() };
    const login = service({ sessionTtl: 600 }, { now: () => clock.now });
    const { token } = await login.login(as(bob, '192.0.2.20'));
    clock.now += 599_000;
    expect(login.resume(token).user.name).toBe(bob.name);
    clock.now += 1_000;
    expect((await refusal(() => login.resume(token))).errorName).toBe('invalid_token');
  });

  it('logs who, from where and the outcome, and never a password or a token', async () => {
    const login = service();
    const { token } = await login.login(as(alice, '192.0.2.21'));
    login.logout(token);

    const log = logLines.join('');
    const records = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const has = (fields: Record<string, unknown>) =>
      expect(records).toContainEqual(expect.objectContaining(fields));
    has({ user: alice.name, address: '192.0.2.21', outcome: 'ok' });
    has({ user: 'root', outcome: 'bad_credentials', reason: expect.any(String) });
    has({ outcome: 'forbidden' });
    has({ outcome: 'too_many_attempts' });
    has({ user: alice.name, msg: 'logout' });
    expect(typed.size).toBeGreaterThan(10);
    for (const password of typed) expect(log).not.toContain(password.split('\0')[0]);
    expect(log).not.toContain(token);
  });
});
