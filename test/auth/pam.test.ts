/**
 * PamAuthenticator against real PAM (packaging/pam.d/sksd over Debian's common-auth and
 * common-account) and real Unix users.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { PamAuthenticator, PamUnavailableError, classify } from '../../src/auth/pam.js';
import {
  createUser,
  expireUser,
  isRoot,
  lockUser,
  removeAllTestUsers,
  type TestUser,
} from '../helpers/users.js';

const logger = pino({ level: 'silent' });
let pam: PamAuthenticator;
let good: TestUser;
let expired: TestUser;
let locked: TestUser;

beforeAll(() => {
  expect(isRoot(), 'PAM tests read /etc/shadow and create users: run as root').toBe(true);
  good = createUser({ tag: 'pg' });
  expired = createUser({ tag: 'pe' });
  expireUser(expired.name);
  locked = createUser({ tag: 'pl' });
  lockUser(locked.name);
  pam = new PamAuthenticator({ service: 'sksd', concurrency: 4, logger });
});

afterAll(async () => {
  await pam?.close();
  removeAllTestUsers();
});

describe('PamAuthenticator', () => {
  it('accepts the right password and a valid account', async () => {
    const result = await pam.authenticate(good.name, good.password, '192.0.2.1');
    expect(result).toMatchObject({ kind: 'ok', step: 'done', code: 0 });
  });

  it('refuses a wrong password, unknown user or locked password in pam_authenticate', async () => {
    const results = await Promise.all([
      pam.authenticate(good.name, `${good.password}x`),
      pam.authenticate('sksdtnosuchuser', 'whatever'),
      pam.authenticate(locked.name, locked.password),
    ]);
    for (const result of results) {
      expect(result).toMatchObject({ kind: 'auth_failed', step: 'authenticate' });
      expect(result.text).not.toBe('');
    }
  });

  it('refuses an expired account in pam_acct_mgmt although the password is right', async () => {
    const result = await pam.authenticate(expired.name, expired.password);
    expect(result).toMatchObject({ kind: 'account_invalid', step: 'acct_mgmt' });
  });

  it('refuses a NUL in the password before PAM, at once', async () => {
    const started = performance.now();
    const result = await pam.authenticate(good.name, `${good.password}\0tail`);
    expect(result.kind).toBe('auth_failed');
    expect(result.text).toMatch(/before PAM/);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('classifies by step: pam_deny in the account stack is an invalid account', () => {
    expect(classify({ step: 'acct_mgmt', code: 7, text: 'x' }).kind).toBe('account_invalid');
    expect(classify({ step: 'authenticate', code: 10, text: 'x' }).kind).toBe('auth_failed');
    expect(classify({ step: 'authenticate', code: 9, text: 'x' }).kind).toBe('error');
    expect(classify({ step: 'start', code: 4, text: 'x' }).kind).toBe('error');
  });
});

describe('PamAuthenticator pool', () => {
  it('rejects, not hangs, when a worker dies, and keeps serving afterwards', async () => {
    const broken = new PamAuthenticator({
      service: 'sksd',
      concurrency: 1,
      logger,
      library: 'libsksd-no-such-pam.so.0',
    });
    const error = await broken.authenticate(good.name, good.password).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PamUnavailableError);
    expect((error as PamUnavailableError).reason).toBe('crashed');
    const again = await broken.authenticate(good.name, good.password).catch((e: unknown) => e);
    expect((again as PamUnavailableError).reason).toBe('crashed');
    await broken.close();
  });

  it('fails an overrunning call with timeout and replaces its worker', async () => {
    const slow = new PamAuthenticator({ service: 'sksd', concurrency: 1, logger, timeoutMs: 600 });
    const error = await slow.authenticate(good.name, 'wrong').catch((e: unknown) => e);
    expect((error as PamUnavailableError).reason).toBe('timeout');
    expect((await slow.authenticate(good.name, good.password)).kind).toBe('ok');
    await slow.close();
  });

  it('bounds the queue', async () => {
    const small = new PamAuthenticator({ service: 'sksd', concurrency: 1, logger, maxQueue: 1 });
    const first = small.authenticate(good.name, good.password);
    const second = small.authenticate(good.name, good.password);
    const third = small.authenticate(good.name, good.password).catch((e: unknown) => e);
    expect(((await third) as PamUnavailableError).reason).toBe('queue_full');
    expect((await first).kind).toBe('ok');
    expect((await second).kind).toBe('ok');
    await small.close();
  });

  it('close() fails running and later calls with closed and ends the workers', async () => {
    const closing = new PamAuthenticator({ service: 'sksd', concurrency: 2, logger });
    const running = closing.authenticate(good.name, 'wrong').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await closing.close();
    expect(((await running) as PamUnavailableError).reason).toBe('closed');
    const later = await closing.authenticate(good.name, good.password).catch((e: unknown) => e);
    expect((later as PamUnavailableError).reason).toBe('closed');
  });
});
