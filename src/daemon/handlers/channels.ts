/** Handlers of channels.* (the caller's ~/.condarc) and ops.* (running changes, cancel). */
import * as channels from '../../conda/channels.js';
import type { Handlers } from '../../rpc/server.js';
import { callerOf, type HandlerDeps, type Sessions } from './context.js';

/** channels.list, channels.add, channels.remove, channels.reorder, ops.list, ops.cancel. */
export function channelAndOpHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  const admin = deps.envAdmin;
  return {
    channelsList: (_params, ctx) => channels.listChannels(admin, callerOf(deps, sessions, ctx)),
    channelsAdd: (params, ctx) => channels.addChannel(admin, callerOf(deps, sessions, ctx), params),
    channelsRemove: (params, ctx) =>
      channels.removeChannel(admin, callerOf(deps, sessions, ctx), params),
    channelsReorder: (params, ctx) =>
      channels.reorderChannels(admin, callerOf(deps, sessions, ctx), params),

    opsList: (_params, ctx) => {
      const { account } = callerOf(deps, sessions, ctx);
      const ops = admin.operations.list(account).map((op) => ({
        op: op.id,
        method: op.request.method,
        env: op.request.env,
        phase: op.phase,
        startedAt: op.startedAt.toISOString(),
      }));
      return { ops };
    },

    opsCancel: (params, ctx) => {
      const { account } = callerOf(deps, sessions, ctx);
      admin.operations.cancel(account, params.op);
      return { op: params.op, cancelling: true as const };
    },
  };
}
