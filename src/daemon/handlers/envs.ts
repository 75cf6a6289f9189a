/**
 * Handlers of envs.*: the caller's conda environments, always looked at as the caller, and their
 * administration (src/conda/admin.ts). Long changes stream ops.progress to this connection.
 */
import * as envOps from '../../conda/env-ops.js';
import { listEnvs } from '../../conda/envs.js';
import { SksdError } from '../../rpc/errors.js';
import { OpsProgress } from '../../rpc/methods-admin.js';
import type { CallContext, Handlers } from '../../rpc/server.js';
import { accountOf, callerOf, type HandlerDeps, type Sessions } from './context.js';

/** The ops.progress sink of one call: notifications go to the connection that asked. */
export function progressTo(ctx: CallContext) {
  return (params: Parameters<typeof ctx.notify<typeof OpsProgress.params>>[1]) =>
    ctx.notify(OpsProgress, params);
}

/** envs.list, envs.create, envs.remove, envs.clone, envs.ensureKernel. */
export function envHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  const admin = deps.envAdmin;
  const track = deps.activity.track.bind(deps.activity);
  return {
    envsList: async (_params, ctx) => {
      const account = accountOf(deps, sessions, ctx);
      return track(async () => {
        const conda = await deps.conda();
        if (conda === null) throw new SksdError('conda_unavailable');
        return { envs: await listEnvs(conda, account, { logger: deps.logger }) };
      });
    },

    envsCreate: (params, ctx) =>
      track(() => envOps.createEnv(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx))),

    envsRemove: (params, ctx) =>
      track(() => envOps.removeEnv(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx))),

    envsClone: (params, ctx) =>
      track(() => envOps.cloneEnv(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx))),

    envsEnsureKernel: (params, ctx) =>
      track(() =>
        envOps.ensureKernel(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx)),
      ),
  };
}
