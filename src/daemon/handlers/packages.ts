/** Handlers of packages.*: what is installed in an environment, and changing it. */
import * as pkgs from '../../conda/packages.js';
import type { Handlers } from '../../rpc/server.js';
import { callerOf, type HandlerDeps, type Sessions } from './context.js';
import { progressTo } from './envs.js';

/** packages.list, packages.install, packages.remove, packages.update. */
export function packageHandlers(deps: HandlerDeps, sessions: Sessions): Handlers {
  const admin = deps.envAdmin;
  const track = deps.activity.track.bind(deps.activity);
  return {
    packagesList: (params, ctx) =>
      pkgs.listPackages(admin, callerOf(deps, sessions, ctx), params.env),

    packagesInstall: (params, ctx) =>
      track(() =>
        pkgs.installPackages(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx)),
      ),

    packagesRemove: (params, ctx) =>
      track(() =>
        pkgs.removePackages(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx)),
      ),

    packagesUpdate: (params, ctx) =>
      track(() =>
        pkgs.updatePackages(admin, callerOf(deps, sessions, ctx), params, progressTo(ctx)),
      ),
  };
}
