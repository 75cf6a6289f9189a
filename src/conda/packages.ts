/**
 * packages.list/install/remove/update: the packages of an environment, through the same
 * validate-resolve-run sequence as the environment methods (admin.ts). Listing only reads, so it
 * needs no ownership: anyone may look at an environment they can list, as conda itself allows.
 */
import { SksdError } from '../rpc/errors.js';
import type { ChangeResult, PackageRef } from '../rpc/methods-admin.js';
import * as argv from './argv.js';
import type { Caller, EnvAdmin, ProgressSink } from './admin.js';
import type { AuditTrail } from './audit.js';
import { packagesOf } from './conda-json.js';
import { parseSpec, validateChannel, validateEnvRef, validatePackageName } from './specs.js';
import type { CondaExecutable } from './locate.js';
import { changeTarget, findEnv, type EnvTarget } from './targets.js';

/** packages.list: `conda list --json` run as the caller. */
export async function listPackages(
  admin: EnvAdmin,
  caller: Caller,
  ref: string,
): Promise<{ env: { name: string; prefix: string }; packages: PackageRef[] }> {
  const user = caller.account;
  const wanted = validateEnvRef(ref);
  const conda = await admin.conda();
  const env = await findEnv(admin.targets(conda), user, wanted);

  const json = await admin.short(user, argv.listArgv(conda, env.prefix), 'list');
  const packages = packagesOf(json);
  if (packages === null)
    throw new SksdError('conda_failed', { logDetail: 'conda list: not a list' });
  return { env, packages };
}

/** Builds a change's conda command once the environment and the account to run as are known. */
type CommandFor = (conda: CondaExecutable, target: EnvTarget) => Promise<readonly string[]>;

/**
 * The sequence install, remove and update share. `validate` checks the method's own parameters
 * after the environment reference and before conda runs at all, so a bad request costs no conda.
 */
function changePackages(
  admin: EnvAdmin,
  caller: Caller,
  method: 'packages.install' | 'packages.remove' | 'packages.update',
  params: { env: string; op?: string },
  progress: ProgressSink,
  validate: (trail: AuditTrail) => CommandFor,
): Promise<ChangeResult> {
  return admin.audited(caller, method, async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, method);
    const ref = validateEnvRef(params.env);
    const commandFor = validate(trail);

    const conda = await admin.conda();
    const target = await changeTarget(admin.targets(conda), user, ref, method);
    const command = await commandFor(conda, target);
    return admin.change({
      caller,
      method,
      opId: params.op,
      target,
      argv: command,
      progress,
      trail,
    });
  });
}

/** packages.install. */
export function installPackages(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; specs: string[]; channels?: string[]; op?: string },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return changePackages(admin, caller, 'packages.install', params, progress, (trail) => {
    const specs = params.specs.map((s) => parseSpec(s));
    const channels = (params.channels ?? []).map((c) => validateChannel(c, 'channels'));
    trail.details = { specs: specs.map((s) => s.spec), channels };
    admin.policy.assertSpecs(specs);
    admin.policy.assertChannels(channels);

    return async (conda, target) => {
      const choice = await admin.channelChoice(target.runAs, channels);
      const wanted = specs.map((s) => s.spec);
      return argv.installArgv(conda, target.prefix, wanted, choice);
    };
  });
}

/** packages.remove: removing is never refused by the package lists, only by ownership. */
export function removePackages(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; names: string[]; op?: string },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return changePackages(admin, caller, 'packages.remove', params, progress, (trail) => {
    const names = params.names.map((n) => validatePackageName(n));
    trail.details = { names };

    return async (conda, target) => argv.removeArgv(conda, target.prefix, names);
  });
}

/** packages.update: the named packages, or all of them. */
export function updatePackages(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; names?: string[]; all?: true; op?: string },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return changePackages(admin, caller, 'packages.update', params, progress, (trail) => {
    const names =
      params.all === true ? 'all' : (params.names ?? []).map((n) => validatePackageName(n));
    trail.details = { names };
    if (names !== 'all') admin.policy.assertPackages(names);

    return async (conda, target) => {
      const choice = await admin.channelChoice(target.runAs, []);
      return argv.updateArgv(conda, target.prefix, names, choice);
    };
  });
}
