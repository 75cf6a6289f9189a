/**
 * Which environment a change touches and as whom it runs. A user changes only environments they
 * own (the prefix directory's owner), as themselves. The shared environments are those in the
 * conda root prefix (base and ROOT/envs/*): only the policy's admins change them, and those
 * changes run as the owner of the root prefix (root for a root-owned /opt/conda), never as root
 * for anything else. New environments go to ~/.conda/envs/NAME (in conda's envs_dirs for every
 * user) or, shared, to ROOT/envs/NAME: a fixed prefix lets sksd refuse an existing one (conda
 * create --yes would replace it) and clean up after a cancelled create.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { Logger } from '../log.js';
import { lookupUser, type UserAccount } from '../auth/users.js';
import { SksdError } from '../rpc/errors.js';
import { listPrefixes } from './envs.js';
import type { CondaExecutable } from './locate.js';
import type { EnvPolicy } from './policy.js';

/** An environment to change, where it is, and the account conda runs as. */
export interface EnvTarget {
  readonly name: string;
  readonly prefix: string;
  readonly shared: boolean;
  readonly runAs: UserAccount;
}

/** The umask of a change: shared environments must stay readable for every user's kernels. */
export function umaskFor(target: EnvTarget): number | undefined {
  return target.shared ? 0o022 : undefined;
}

/** What resolving needs. */
export interface TargetContext {
  readonly conda: CondaExecutable;
  readonly policy: EnvPolicy;
  readonly logger: Logger;
}

/** conda's root prefix: the directory above its bin/ (or condabin/). */
export function rootPrefixOf(conda: CondaExecutable): string {
  return dirname(dirname(conda.path));
}

/** Whether a prefix is one of the shared environments of the root prefix. */
export function isShared(root: string, prefix: string): boolean {
  return prefix === root || dirname(prefix) === join(root, 'envs');
}

async function ownerUid(path: string): Promise<number | null> {
  try {
    return (await stat(path)).uid;
  } catch {
    return null;
  }
}

/** The account owning a path, looked up through NSS. */
export async function ownerAccount(path: string): Promise<UserAccount> {
  const uid = await ownerUid(path);
  const passwd =
    uid === null ? null : await execa('getent', ['passwd', String(uid)], { reject: false });
  const name = passwd?.exitCode === 0 ? passwd.stdout.split(':')[0] : undefined;
  const account = name === undefined ? null : await lookupUser(name);
  if (account === null) {
    throw new SksdError('internal_error', { logDetail: `no account owns ${path} (uid ${uid})` });
  }
  return account;
}

/** The user's environments as conda lists them for that user. */
export async function userEnvs(ctx: TargetContext, user: UserAccount) {
  return listPrefixes(ctx.conda, user, { logger: ctx.logger });
}

/** One of the user's environments by name, or by prefix when the reference is a path. */
export async function findEnv(ctx: TargetContext, user: UserAccount, ref: string) {
  const envs = await userEnvs(ctx, user);
  const env = envs.find((e) => (ref.startsWith('/') ? e.prefix === ref : e.name === ref));
  if (env === undefined)
    throw new SksdError('env_not_found', { logDetail: `${user.name}: ${ref}` });
  return env;
}

/** Resolves an existing environment the caller wants to change, with the rights checked. */
export async function changeTarget(
  ctx: TargetContext,
  user: UserAccount,
  ref: string,
  action: string,
): Promise<EnvTarget> {
  const env = await findEnv(ctx, user, ref);
  const root = rootPrefixOf(ctx.conda);
  if (isShared(root, env.prefix)) {
    ctx.policy.assertSharedAdmin(user, action);
    return { ...env, shared: true, runAs: await ownerAccount(root) };
  }

  const uid = await ownerUid(env.prefix);
  if (uid !== user.uid) {
    throw new SksdError('forbidden', {
      data: { reason: 'not_owner', action },
      logDetail: `${user.name}: ${action} ${env.prefix} owned by uid ${String(uid)}`,
    });
  }
  return { ...env, shared: false, runAs: user };
}

/** Where a new environment goes, refused when the name is taken or the user is at the limit. */
export async function newTarget(
  ctx: TargetContext,
  user: UserAccount,
  name: string,
  shared: boolean,
  action: string,
): Promise<EnvTarget> {
  const root = rootPrefixOf(ctx.conda);
  if (shared) ctx.policy.assertSharedAdmin(user, action);
  else ctx.policy.assertMayCreate(user, action);

  const envs = await userEnvs(ctx, user);
  const prefix = shared ? join(root, 'envs', name) : join(user.home, '.conda', 'envs', name);
  // A name that already resolves would make kernels.start ambiguous; conda would replace a prefix.
  if (envs.some((e) => e.name === name) || (await ownerUid(prefix)) !== null) {
    throw new SksdError('env_exists', { data: { name }, logDetail: `${user.name}: ${prefix}` });
  }

  if (!shared) {
    const mine = await Promise.all(
      envs
        .filter((e) => !isShared(root, e.prefix))
        .map(async (e) => (await ownerUid(e.prefix)) === user.uid),
    );
    ctx.policy.assertEnvLimit(user, mine.filter(Boolean).length);
  }
  return { name, prefix, shared, runAs: shared ? await ownerAccount(root) : user };
}
