/** Handlers of kernels.*: start, list and stop the caller's own kernels. */
import { SksdError } from '../../rpc/errors.js';
import type { Handlers } from '../../rpc/server.js';
import { accountOf, type HandlerDeps, type Sessions } from './context.js';

/** kernels.start, kernels.list, kernels.shutdown. */
export function kernelHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  return {
    kernelsStart: async (params, ctx) => {
      const user = accountOf(deps, sessions, ctx);
      const address = deps.kernelAddress ?? reachableIPv4(ctx.localAddress);
      const started = await deps.activity.track(() =>
        deps.kernels.start({ user, env: params.env, cwd: params.cwd, address }),
      );
      ctx.logger.info({ user: user.name, remote: ctx.remoteAddress, kernel: started.id }, 'kernel started');
      return started;
    },

    kernelsList: (_params, ctx) => ({ kernels: deps.kernels.list(accountOf(deps, sessions, ctx)) }),

    kernelsShutdown: async (params, ctx) => {
      const user = accountOf(deps, sessions, ctx);
      const result = await deps.kernels.shutdown(user, params.id);
      ctx.logger.info({ user: user.name, kernel: params.id, outcome: result.outcome }, 'kernel stopped');
      return { id: result.id, outcome: result.outcome, durationMs: result.durationMs };
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
