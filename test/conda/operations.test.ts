/** Operations: one change per lock, cancel by its owner only, disconnect, timeout, shutdown. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { Operations, type Operation } from '../../src/conda/operations.js';
import { SksdError } from '../../src/rpc/errors.js';

const logger = pino({ level: 'silent' });
const account = (uid: number): UserAccount => ({
  name: `u${uid}`,
  uid,
  gid: uid,
  home: '/',
  shell: '/bin/sh',
  groups: [],
  groupNames: [],
});
const alice = account(1001);
const bob = account(1002);

/** Work that ends when its operation is cancelled, with the cancelled error. */
const untilCancelled = (op: Operation) =>
  new Promise<never>((_, reject) =>
    op.signal.addEventListener('abort', () => reject(op.cancelledError())),
  );

const request = (user: UserAccount, locks: string[], extra: Record<string, unknown> = {}) => ({
  user,
  connectionId: 'c1',
  method: 'packages.install',
  env: 'e',
  locks,
  ...extra,
});

async function errorOf(promise: Promise<unknown>): Promise<SksdError> {
  return promise.then(
    () => {
      throw new Error('resolved');
    },
    (e: unknown) => e as SksdError,
  );
}

describe('operations', () => {
  it('refuses a second change under the same lock at once, naming the first only to its owner', async () => {
    const ops = new Operations({ timeoutMs: 60_000, logger });
    const first = ops.run(request(alice, ['/p'], { id: 'first-op' }), untilCancelled);
    const mine = await errorOf(ops.run(request(alice, ['/p']), async () => 1));
    expect(mine.errorName).toBe('env_busy');
    expect(mine.data).toEqual({ env: 'e', op: 'first-op', method: 'packages.install' });
    expect((await errorOf(ops.run(request(bob, ['/p']), async () => 1))).data).toEqual({
      env: 'e',
    });
    expect(await ops.run(request(alice, ['/q']), async () => 2)).toBe(2);

    expect(() => ops.cancel(bob, 'first-op')).toThrow(SksdError);
    ops.cancel(alice, 'first-op');
    expect((await errorOf(first)).data).toEqual({ op: 'first-op', reason: 'client' });
    expect(await ops.run(request(bob, ['/p']), async () => 3)).toBe(3);
  });

  it('cancels on disconnect, on timeout and on shutdown, and then refuses new work', async () => {
    const ops = new Operations({ timeoutMs: 50, logger });
    const timed = await errorOf(ops.run(request(alice, ['/a']), untilCancelled));
    expect(timed.data).toMatchObject({ reason: 'timeout' });

    const slow = new Operations({ timeoutMs: 60_000, logger });
    const dropped = slow.run(request(alice, ['/a'], { connectionId: 'gone' }), untilCancelled);
    const kept = slow.run(request(alice, ['/b'], { connectionId: 'kept' }), untilCancelled);
    slow.connectionClosed('gone');
    expect((await errorOf(dropped)).data).toMatchObject({ reason: 'disconnect' });
    expect(slow.list(alice).map((op) => op.request.connectionId)).toEqual(['kept']);

    await slow.shutdown();
    expect((await errorOf(kept)).data).toMatchObject({ reason: 'shutdown' });
    expect((await errorOf(slow.run(request(alice, ['/c']), async () => 1))).errorName).toBe(
      'shutting_down',
    );
  });
});
