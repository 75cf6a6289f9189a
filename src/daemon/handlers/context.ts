/** What every handler group needs: the daemon's services and the callers' sessions. */
import type { LoginService } from '../../auth/login.js';
import type { UserAccount } from '../../auth/users.js';
import type { Caller, EnvAdmin } from '../../conda/admin.js';
import type { CondaExecutable } from '../../conda/locate.js';
import type { KernelManager } from '../../kernels/manager.js';
import type { Logger } from '../../log.js';
import { SksdError } from '../../rpc/errors.js';
import type { CallContext } from '../../rpc/server.js';
import type { ActivityTracker } from '../activity.js';

/** The daemon's services, as the handlers see them. */
export interface HandlerDeps {
  readonly name: string;
  readonly host: string;
  readonly version: string;
  readonly login: LoginService;
  readonly kernels: KernelManager;
  readonly conda: () => Promise<CondaExecutable | null>;
  readonly activity: ActivityTracker;
  /** Environment administration (envs.create, packages.*, channels.*, ops.*). */
  readonly envAdmin: EnvAdmin;
  /** The admin's fixed address for connection files, or null for the address the client reached. */
  readonly kernelAddress: string | null;
  readonly logger: Logger;
}

/** A logged-in connection's account and token. */
export interface Session {
  readonly account: UserAccount;
  readonly token: string;
}

/** Sessions by connection id; the daemon forgets a connection when it closes. */
export type Sessions = Map<string, Session>;

/**
 * The caller's account. The token is checked on every call, so a logout elsewhere or its expiry
 * ends this connection's rights too, not only new connections'.
 */
export function accountOf(deps: HandlerDeps, sessions: Sessions, ctx: CallContext): UserAccount {
  ctx.requireUser();
  const session = sessions.get(ctx.connectionId);
  if (session === undefined) throw new SksdError('not_logged_in');
  return deps.login.resume(session.token).user;
}

/** The caller of an administrative action: account, address, connection. */
export function callerOf(deps: HandlerDeps, sessions: Sessions, ctx: CallContext): Caller {
  const account = accountOf(deps, sessions, ctx);
  return { account, address: ctx.remoteAddress, connectionId: ctx.connectionId };
}
