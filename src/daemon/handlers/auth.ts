/** Handlers of sksd.info and auth.*: who the daemon is, and who the caller is. */
import { CAPABILITIES, PROTOCOL_VERSION } from '../../rpc/methods.js';
import type { Handlers } from '../../rpc/server.js';
import type { HandlerDeps, Sessions } from './context.js';

/** sksd.info, auth.login, auth.resume, auth.logout. */
export function authHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  return {
    info: (_params, ctx) => ({
      name: deps.name,
      host: deps.host,
      version: deps.version,
      protocol: PROTOCOL_VERSION,
      state: deps.activity.state,
      capabilities: CAPABILITIES,
      user: ctx.user,
    }),

    login: async (params, ctx) => {
      const result = await deps.login.login({ ...params, address: ctx.remoteAddress });
      sessions.set(ctx.connectionId, { account: result.user, token: result.token });
      ctx.setUser(result.user.name);
      return {
        user: result.user.name,
        token: result.token,
        expiresAt: result.expiresAt.toISOString(),
      };
    },

    resume: (params, ctx) => {
      const { user, expiresAt } = deps.login.resume(params.token);
      sessions.set(ctx.connectionId, { account: user, token: params.token });
      ctx.setUser(user.name);
      ctx.logger.info({ user: user.name, remote: ctx.remoteAddress }, 'session resumed');
      return { user: user.name, expiresAt: expiresAt.toISOString() };
    },

    logout: (_params, ctx) => {
      const session = sessions.get(ctx.connectionId);
      if (session !== undefined) deps.login.logout(session.token);
      sessions.delete(ctx.connectionId);
      ctx.clearUser();
      return { ok: true as const };
    },
  };
}
