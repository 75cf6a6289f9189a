/** LoginRateLimiter with an injected clock: sliding windows, success, bounded memory. */
import { describe, it, expect } from 'vitest';
import { LoginRateLimiter, addressKey } from '../../src/auth/rate-limit.js';

function limiter(options: { user?: number; address?: number; maxKeys?: number } = {}) {
  const clock = { now: 1_000_000 };
  const limits = new LoginRateLimiter({
    maxFailuresPerUser: options.user ?? 3,
    maxFailuresPerAddress: options.address ?? 5,
    windowSeconds: 60,
    maxKeys: options.maxKeys,
    now: () => clock.now,
  });
  return { clock, limits };
}

describe('LoginRateLimiter', () => {
  it('refuses a user after N failures and lets them in again as the window slides', () => {
    const { clock, limits } = limiter({ user: 3 });
    for (let i = 0; i < 3; i++) {
      expect(limits.begin('alice', `10.0.0.${i}`)).toBeNull();
      clock.now += 10_000;
    }
    expect(limits.begin('alice', '10.0.0.9')).toEqual({ scope: 'user', retryAfterSeconds: 30 });

    // The first failure (t=0) leaves the window at t=60 s; only then is one more try allowed.
    clock.now = 1_000_000 + 59_999;
    expect(limits.begin('alice', '10.0.0.9')?.scope).toBe('user');
    clock.now = 1_000_000 + 60_000;
    expect(limits.begin('alice', '10.0.0.9')).toBeNull();
    expect(limits.begin('alice', '10.0.0.9')?.scope).toBe('user');
  });

  it('refuses an address after N failures, whatever the user names', () => {
    const { limits } = limiter({ user: 100, address: 4 });
    for (let i = 0; i < 4; i++) expect(limits.begin(`user${i}`, '198.51.100.7')).toBeNull();
    expect(limits.begin('someone', '198.51.100.7')?.scope).toBe('address');
    expect(limits.begin('someone', '198.51.100.8')).toBeNull();
  });

  it('counts attempts still in flight, so parallel guesses cannot overshoot', () => {
    const { limits } = limiter({ user: 2 });
    const started = [1, 2, 3, 4].map(() => limits.begin('bob', '203.0.113.1'));
    expect(started.filter((d) => d === null)).toHaveLength(2);
  });

  it('clears the user on success and un-counts the attempt for the address', () => {
    const { limits } = limiter({ user: 2, address: 3 });
    expect(limits.begin('carol', '192.0.2.1')).toBeNull();
    expect(limits.begin('carol', '192.0.2.1')).toBeNull();
    limits.succeeded('carol', '192.0.2.1');
    expect(limits.begin('carol', '192.0.2.1')).toBeNull();
    expect(limits.begin('carol', '192.0.2.1')).toBeNull();
    // Address: two failures and the un-counted success leave room for exactly one more.
    expect(limits.begin('dave', '192.0.2.1')?.scope).toBe('address');
  });

  it('keeps memory bounded however many names and addresses fail', () => {
    const { clock, limits } = limiter({ maxKeys: 100 });
    for (let i = 0; i < 5000; i++) {
      limits.begin(`spray${i}`, `10.${i >> 8}.${i & 255}.1`);
      clock.now += 1;
    }
    expect(limits.trackedKeys.users).toBeLessThanOrEqual(100);
    expect(limits.trackedKeys.addresses).toBeLessThanOrEqual(100);
  });

  it('forgets expired keys as new failures arrive', () => {
    const { clock, limits } = limiter();
    limits.begin('old', '10.9.9.9');
    clock.now += 61_000;
    limits.begin('new', '10.9.9.8');
    expect(limits.trackedKeys).toEqual({ users: 1, addresses: 1 });
  });
});

describe('addressKey', () => {
  it('counts IPv4-mapped addresses as IPv4 and IPv6 by /64', () => {
    expect(addressKey('::ffff:192.0.2.5')).toBe('192.0.2.5');
    expect(addressKey('192.0.2.5')).toBe('192.0.2.5');
    expect(addressKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0DB8:0000:0001:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});
