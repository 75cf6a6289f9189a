/** SessionStore with an injected clock: issue, resume, expiry, logout, pruning, bounds. */
import { describe, it, expect } from 'vitest';
import { SessionStore, tokenTag } from '../../src/auth/sessions.js';
import type { UserAccount } from '../../src/auth/users.js';

const alice: UserAccount = {
  name: 'alice',
  uid: 1500,
  gid: 1500,
  home: '/home/alice',
  shell: '/bin/bash',
  groups: [1500],
  groupNames: ['alice'],
};

function store(maxSessions?: number) {
  const clock = { now: 5_000_000 };
  const sessions = new SessionStore({ ttlSeconds: 3600, maxSessions, now: () => clock.now });
  return { clock, sessions };
}

describe('SessionStore', () => {
  it('issues 32-byte base64url tokens that resume to the user until they expire', () => {
    const { clock, sessions } = store();
    const { token, expiresAt } = sessions.issue(alice);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(expiresAt.getTime()).toBe(clock.now + 3_600_000);
    expect(sessions.resume(token)).toEqual({ user: alice, expiresAt });

    clock.now += 3_599_999;
    expect(sessions.resume(token)?.user.name).toBe('alice');
    clock.now += 1;
    expect(sessions.resume(token)).toBeNull();
    expect(sessions.size).toBe(0);
  });

  it('gives a different token each time and refuses unknown or malformed ones', () => {
    const { sessions } = store();
    const a = sessions.issue(alice).token;
    const b = sessions.issue(alice).token;
    expect(a).not.toBe(b);
    expect(sessions.resume(`${a.slice(0, 42)}${a[42] === 'A' ? 'B' : 'A'}`)).toBeNull();
    expect(sessions.resume('')).toBeNull();
    expect(sessions.resume(`${a}\0`)).toBeNull();
    expect(sessions.resume('x'.repeat(10_000))).toBeNull();
  });

  it('revokes on logout, one session or all of a user', () => {
    const { sessions } = store();
    const first = sessions.issue(alice).token;
    const second = sessions.issue(alice).token;
    const third = sessions.issue({ ...alice, name: 'bob' }).token;
    expect(sessions.revoke(first)).toBe(true);
    expect(sessions.revoke(first)).toBe(false);
    expect(sessions.resume(first)).toBeNull();
    expect(sessions.resume(second)).not.toBeNull();
    expect(sessions.revokeUser('alice')).toBe(1);
    expect(sessions.resume(second)).toBeNull();
    expect(sessions.resume(third)?.user.name).toBe('bob');
  });

  it('prunes expired sessions and stays within maxSessions', () => {
    const { clock, sessions } = store(3);
    sessions.issue(alice);
    sessions.issue(alice);
    clock.now += 3_600_000;
    expect(sessions.prune()).toBe(2);

    const tokens = [1, 2, 3, 4].map(() => sessions.issue(alice).token);
    expect(sessions.size).toBe(3);
    expect(sessions.resume(tokens[0] as string)).toBeNull();
    expect(sessions.resume(tokens[3] as string)).not.toBeNull();
  });

  it('tags a token for logs without revealing it', () => {
    const { sessions } = store();
    const { token } = sessions.issue(alice);
    expect(tokenTag(token)).toHaveLength(12);
    expect(token).not.toContain(tokenTag(token));
  });
});
