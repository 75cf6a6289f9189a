/**
 * packages.list/install/remove/update: the packages of an environment, through the same
 * validate-resolve-run sequence as the environment methods (admin.ts). Listing only reads, so it
 * needs no ownership: anyone may look at an environment they can list, as conda itself allows.
 */
import { SksdError } from '../rpc/errors.js';
import type { ChangeResult, PackageRef } from '../rpc/methods-admin.js';
import * as argv from './argv.js';
import type { Caller, EnvAdmin, ProgressSink } from './admin.js';
import { packagesOf } from './conda-json.js';
import { parseSpec, validateChannel, validateEnvRef, validatePackageName } from './specs.js';
import { changeTarget, findEnv } from './targets.js';

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

/** packages.install. */
export function installPackages(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; specs: string[]; channels?: string[]; op?: string },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return admin.audited(caller, 'packages.install', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'packages.install');
    const ref = validateEnvRef(params.env);
    const specs = params.specs.map((s) => parseSpec(s));
    const channels = (params.channels ?? []).map((c) => validateChannel(c, 'channels'));
    trail.details = { specs: specs.map((s) => s.spec), channels };
    admin.policy.assertSpecs(specs);
    admin.policy.assertChannels(channels);

    const conda = await admin.conda();
    const target = await changeTarget(admin.targets(conda), user, ref, 'packages.install');
    const choice = await admin.channelChoice(target.runAs, channels);
    const command = argv.installArgv(
      conda,
      target.prefix,
      specs.map((s) => s.spec),
      choice,
    );
    const method = 'packages.install';
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

/** packages.remove: removing is never refused by the package lists, only by ownership. */
export function removePackages(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; names: string[]; op?: string },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return admin.audited(caller, 'packages.remove', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'packages.remove');
    const ref = validateEnvRef(params.env);
    const names = params.names.map((n) => validatePackageName(n));
    trail.details = { names };

    const conda = await admin.conda();
    const target = await changeTarget(admin.targets(conda), user, ref, 'packages.remove');
    const command = argv.removeArgv(conda, target.prefix, names);
    const method = 'packages.remove';
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

/** packages.update: the named packages, or all of them. */
export function updatePackages(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; names?: string[]; all?: true; op?: string },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return admin.audited(caller, 'packages.update', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'packages.update');
    const ref = validateEnvRef(params.env);
    const names =
      params.all === true ? 'all' : (params.names ?? []).map((n) => validatePackageName(n));
    trail.details = { names };
    if (names !== 'all') admin.policy.assertPackages(names);

    const conda = await admin.conda();
    const target = await changeTarget(admin.targets(conda), user, ref, 'packages.update');
    const choice = await admin.channelChoice(target.runAs, []);
    const command = argv.updateArgv(conda, target.prefix, names, choice);
    const method = 'packages.update';
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
