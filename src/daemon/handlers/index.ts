/**
 * All method handlers, grouped by concern. Each group is a few lines per method that take the
 * caller's account from its session and hand over to the service that owns the work.
 */
import type { Handlers } from '../../rpc/server.js';
import { authHandlers } from './auth.js';
import { channelAndOpHandlers } from './channels.js';
import type { HandlerDeps, Sessions } from './context.js';
import { envHandlers } from './envs.js';
import { kernelHandlers } from './kernels.js';
import { packageHandlers } from './packages.js';

export type { HandlerDeps, Session, Sessions } from './context.js';

/** Builds every handler; `sessions` is owned by the daemon, which forgets closed connections. */
export function createHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  return {
    ...authHandlers(deps, sessions),
    ...envHandlers(deps, sessions),
    ...kernelHandlers(deps, sessions),
    ...packageHandlers(deps, sessions),
    ...channelAndOpHandlers(deps, sessions),
  };
}
