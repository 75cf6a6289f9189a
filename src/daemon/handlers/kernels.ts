/**
 * Handlers of kernels.*: start, list, interrupt, restart and stop the caller's own kernels. The
 * connection that started a kernel is told with a kernels.dead notification when the kernel ends
 * without being asked (exit, crash, culling, failed restart), as long as that connection is open.
 */
import type { KernelEvent } from '../../kernels/manager.js';
import { SksdError } from '../../rpc/errors.js';
import { Notifications } from '../../rpc/methods.js';
import type { Handlers, Notify } from '../../rpc/server.js';
import { accountOf, type HandlerDeps, type Sessions } from './context.js';

/** kernels.start, kernels.list, kernels.interrupt, kernels.restart, kernels.shutdown. */
export function kernelHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  // Who to tell when a kernel dies: the notify of the connection that started it. A closed
  // connection's notify drops the message, so entries only need removing when the kernel dies.
  const starters = new Map<string, Notify>();
  deps.kernels.on('state', (event: KernelEvent) => {
    if (event.state !== 'dead') return;

    const notify = starters.get(event.id);
    starters.delete(event.id);
    if (notify !== undefined && event.exit !== undefined) {
      notify(Notifications.kernelDead, { id: event.id, env: event.env, exit: event.exit });
    }
  });

  return {
    kernelsStart: async (params, ctx) => {
      const user = accountOf(deps, sessions, ctx);
      const address = deps.kernelAddress ?? reachableIPv4(ctx.localAddress);
      const request = { user, env: params.env, cwd: params.cwd, spyder: params.spyder, address };
      const started = await deps.activity.track(() => deps.kernels.start(request));
      starters.set(started.id, ctx.notify);
      ctx.logger.info(
        { user: user.name, remote: ctx.remoteAddress, kernel: started.id },
        'kernel started',
      );
      return started;
    },

    kernelsList: (_params, ctx) => ({ kernels: deps.kernels.list(accountOf(deps, sessions, ctx)) }),

    kernelsInterrupt: async (params, ctx) => {
      const user = accountOf(deps, sessions, ctx);
      return deps.kernels.interrupt(user, params.id);
    },

    kernelsRestart: async (params, ctx) => {
      const user = accountOf(deps, sessions, ctx);
      const result = await deps.activity.track(() => deps.kernels.restart(user, params.id));
      ctx.logger.info(
        { user: user.name, kernel: params.id, restarts: result.restarts },
        'kernel restarted',
      );
      return result;
    },

    kernelsShutdown: async (params, ctx) => {
      const user = accountOf(deps, sessions, ctx);
      const result = await deps.kernels.shutdown(user, params.id);
      starters.delete(params.id);
      ctx.logger.info(
        { user: user.name, kernel: params.id, outcome: result.outcome },
        'kernel stopped',
      );
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
