/**
 * The method handlers: each one is a few lines that take the caller's account from its session
 * and hand over to the service that owns the work (login, conda, kernels).
 */
import type { LoginService } from '../auth/login.js';
import type { UserAccount } from '../auth/users.js';
import { listEnvs } from '../conda/envs.js';
import type { CondaExecutable } from '../conda/locate.js';
import type { KernelManager } from '../kernels/manager.js';
import type { Logger } from '../log.js';
import { SksdError } from '../rpc/errors.js';
import { CAPABILITIES, PROTOCOL_VERSION } from '../rpc/methods.js';
import type { CallContext, Handlers } from '../rpc/server.js';
import type { ActivityTracker } from './activity.js';

/** What the handlers need from the daemon. */
export interface HandlerDeps {
  readonly name: string;
  readonly host: string;
  readonly version: string;
  readonly login: LoginService;
  readonly kernels: KernelManager;
  readonly conda: () => Promise<CondaExecutable | null>;
  readonly activity: ActivityTracker;
  /** The admin's fixed address for connection files, or null for the address the client reached. */
  readonly kernelAddress: string | null;
  readonly logger: Logger;
}

/** A logged-in connection's account and token, kept by connection id. */
export interface Session {
  readonly account: UserAccount;
  readonly token: string;
}

/** Builds the handlers; `sessions` is owned by the daemon, which forgets a closed connection. */
export function createHandlers(deps: HandlerDeps, sessions: Map<string, Session>): Handlers {
  // The token is checked on every call, so a logout elsewhere or its expiry ends this connection's
  // rights too, not only new connections'.
  const accountOf = (ctx: CallContext): UserAccount => {
    ctx.requireUser();
    const session = sessions.get(ctx.connectionId);
    if (session === undefined) throw new SksdError('not_logged_in');
    return deps.login.resume(session.token).user;
  };

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
      return { user: result.user.name, token: result.token, expiresAt: result.expiresAt.toISOString() };
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

    envsList: async (_params, ctx) => {
      const account = accountOf(ctx);
      return deps.activity.track(async () => {
        const conda = await deps.conda();
        if (conda === null) throw new SksdError('conda_unavailable');
        return { envs: await listEnvs(conda, account, { logger: deps.logger }) };
      });
    },

    kernelsStart: async (params, ctx) => {
      const user = accountOf(ctx);
      const address = deps.kernelAddress ?? reachableIPv4(ctx.localAddress);
      const started = await deps.activity.track(() =>
        deps.kernels.start({ user, env: params.env, cwd: params.cwd, address }),
      );
      ctx.logger.info({ user: user.name, remote: ctx.remoteAddress, kernel: started.id }, 'kernel started');
      return started;
    },

    kernelsList: (_params, ctx) => ({ kernels: deps.kernels.list(accountOf(ctx)) }),

    kernelsShutdown: async (params, ctx) => {
      const user = accountOf(ctx);
      const result = await deps.kernels.shutdown(user, params.id);
      ctx.logger.info({ user: user.name, kernel: params.id, outcome: result.outcome }, 'kernel stopped');
      return { id: result.id, outcome: result.outcome };
    },
  };
}

/**
 * The connection file needs an IPv4 address the client can reach (Spyder validates `ip` as IPv4).
 * The local address of the client's own connection is one by construction.
 */
function reachableIPv4(localAddress: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(localAddress)) return localAddress;

  throw new SksdError('kernel_start_failed', {
    message: 'The client reached the daemon over IPv6; set kernels.address to an IPv4 address',
    logDetail: `local address ${localAddress} is not IPv4`,
  });
}
