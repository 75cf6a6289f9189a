/**
 * Test-only handlers registered against the real method specs. The login check is a fake (one
 * hard-coded user and password): real PAM login is src/auth's business and tested there.
 */
import { z } from 'zod';
import { SksdError } from '../../src/rpc/errors.js';
import { CAPABILITIES, PROTOCOL_VERSION } from '../../src/rpc/methods.js';
import type { Handlers, NotificationSpec } from '../../src/rpc/server.js';

export const FAKE_USER = 'alice';
export const FAKE_PASSWORD = 'fake-password-S3CRET';
/** Text a failing handler throws; it must never reach the client. */
export const SECRET_DETAIL = 'open /var/lib/sksd/secret-detail failed';

/** A test-only server-to-client notification. */
export const FakeTick: NotificationSpec<z.ZodObject<{ n: z.ZodNumber }>> = {
  name: 'test.tick',
  params: z.object({ n: z.number() }),
};

/** A slow call the test releases by hand (kernels.shutdown waits for it). */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Handlers for sksd.info, a fake auth.login/logout, and auth-only methods with odd behaviours. */
export function fakeHandlers(slow = gate()): Handlers {
  return {
    info: (_params, ctx) => ({
      name: 'test',
      host: 'localhost',
      version: '0.0.0-test',
      protocol: PROTOCOL_VERSION,
      state: 'idle',
      capabilities: CAPABILITIES,
      user: ctx.user,
    }),
    login: ({ user, password }, ctx) => {
      if (user !== FAKE_USER || password !== FAKE_PASSWORD) throw new SksdError('bad_credentials');
      ctx.setUser(user);
      return { user, token: 'fake-token', expiresAt: new Date(0).toISOString() };
    },
    // Returns a result that breaks its schema: the server must not send it.
    resume: () => ({ user: 42 }) as unknown as { user: string; expiresAt: string },
    logout: (_params, ctx) => {
      ctx.clearUser();
      return { ok: true };
    },
    kernelsList: (_params, ctx) => {
      ctx.notify(FakeTick, { n: 1 });
      return { kernels: [] };
    },
    envsList: () => {
      throw new Error(SECRET_DETAIL);
    },
    kernelsShutdown: async ({ id }) => {
      await slow.promise;
      return { id, outcome: 'already_dead', durationMs: 0 };
    },
  };
}
