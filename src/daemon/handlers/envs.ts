/** Handlers of envs.*: the caller's conda environments, always looked at as the caller. */
import { listEnvs } from '../../conda/envs.js';
import { SksdError } from '../../rpc/errors.js';
import type { Handlers } from '../../rpc/server.js';
import { accountOf, type HandlerDeps, type Sessions } from './context.js';

/** envs.list. */
export function envHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  return {
    envsList: async (_params, ctx) => {
      const account = accountOf(deps, sessions, ctx);
      return deps.activity.track(async () => {
        const conda = await deps.conda();
        if (conda === null) throw new SksdError('conda_unavailable');
        return { envs: await listEnvs(conda, account, { logger: deps.logger }) };
      });
    },
  };
}
