/**
 * envs.create, envs.remove, envs.clone and envs.ensureKernel, each the sequence admin.ts
 * describes: policy and validation, the target and the account to run as, one conda change.
 * A failed or cancelled create (or clone) removes the prefix it made, so that no half-made
 * environment is left for conda env list to show.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkCompatibility, kernelRequirement } from '../kernels/compat.js';
import { SksdError } from '../rpc/errors.js';
import type { ChangeResult } from '../rpc/methods-admin.js';
import { runAsUser } from '../process/run-as-user.js';
import type { EnvAdmin, Caller, ChangeRequest, ProgressSink } from './admin.js';
import * as argv from './argv.js';
import { probeSpyderKernels } from './envs.js';
import type { CondaExecutable } from './locate.js';
import { runConda } from './run-conda.js';
import {
  parseSpec,
  pythonSpec,
  validateChannel,
  validateEnvName,
  validateEnvRef,
} from './specs.js';
import { changeTarget, findEnv, newTarget, rootPrefixOf, umaskFor } from './targets.js';
import type { EnvTarget } from './targets.js';

const LEFTOVER_TIMEOUT_MS = 5 * 60_000;

/** Removes what a failed or cancelled create left: conda remove --all if conda made an env. */
async function removeLeftover(admin: EnvAdmin, conda: CondaExecutable, target: EnvTarget) {
  if (!existsSync(target.prefix)) return;

  if (existsSync(join(target.prefix, 'conda-meta'))) {
    const signal = AbortSignal.timeout(LEFTOVER_TIMEOUT_MS);
    const command = argv.removeArgv(conda, target.prefix, 'all');
    const umask = umaskFor(target);
    await runConda(target.runAs, command, {
      logger: admin.logger,
      signal,
      cancelGraceMs: 5000,
      umask,
    });
  } else {
    // Not a conda environment: only an empty directory is removed; anything else is left.
    await runAsUser(target.runAs, ['/bin/rmdir', '--', target.prefix], {
      timeoutMs: 10_000,
      logger: admin.logger,
    });
  }
  if (existsSync(target.prefix))
    admin.logger.warn({ prefix: target.prefix }, 'a failed create left its prefix');
}

/** A change that makes a new prefix: refused if one appears meanwhile, its leftovers removed. */
function changeNewEnv(
  admin: EnvAdmin,
  conda: CondaExecutable,
  request: Omit<ChangeRequest, 'cleanup' | 'fresh'>,
): Promise<ChangeResult> {
  const cleanup = () => removeLeftover(admin, conda, request.target);
  return admin.change({ ...request, cleanup, fresh: true });
}

/** envs.create. */
export function createEnv(
  admin: EnvAdmin,
  caller: Caller,
  params: {
    name: string;
    packages?: string[];
    channels?: string[];
    python?: string;
    shared?: boolean;
    op?: string;
  },
  progress: ProgressSink,
): Promise<ChangeResult> {
  return admin.audited(caller, 'envs.create', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'envs.create');
    const name = validateEnvName(params.name);
    const specs = (params.packages ?? []).map((s) => parseSpec(s, 'packages'));
    if (params.python !== undefined) specs.push(pythonSpec(params.python));
    const channels = (params.channels ?? []).map((c) => validateChannel(c, 'channels'));
    trail.details = {
      name,
      specs: specs.map((s) => s.spec),
      channels,
      shared: params.shared === true,
    };
    admin.policy.assertSpecs(specs);
    admin.policy.assertChannels(channels);

    const conda = await admin.conda();
    const target = await newTarget(
      admin.targets(conda),
      user,
      name,
      params.shared === true,
      'envs.create',
    );
    const choice = await admin.channelChoice(target.runAs, channels);
    const command = argv.createArgv(
      conda,
      target.prefix,
      specs.map((s) => s.spec),
      choice,
    );
    return changeNewEnv(admin, conda, {
      caller,
      method: 'envs.create',
      opId: params.op,
      target,
      argv: command,
      progress,
      trail,
    });
  });
}

/** envs.remove: conda remove --all, refused for base and for an environment a kernel runs in. */
export function removeEnv(
  admin: EnvAdmin,
  caller: Caller,
  params: { name: string; op?: string },
  progress: ProgressSink,
) {
  return admin.audited(caller, 'envs.remove', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'envs.remove');
    const ref = validateEnvRef(params.name, 'name');
    const conda = await admin.conda();
    const target = await changeTarget(admin.targets(conda), user, ref, 'envs.remove');
    if (!target.shared) admin.policy.assertMayCreate(user, 'envs.remove');
    if (target.prefix === rootPrefixOf(conda)) {
      throw new SksdError('forbidden', { data: { reason: 'base', action: 'envs.remove' } });
    }
    if (admin.options.inUse?.(user, target) === true) {
      throw new SksdError('env_busy', {
        message: 'A kernel of yours runs in this environment; stop it first',
        data: { env: target.name, reason: 'kernel' },
        logDetail: `${target.name}: a kernel of ${user.name} runs in it`,
      });
    }
    const command = argv.removeArgv(conda, target.prefix, 'all');
    return admin.change({
      caller,
      method: 'envs.remove',
      opId: params.op,
      target,
      argv: command,
      progress,
      trail,
    });
  });
}

/** envs.clone: conda create --clone, the source locked so that it does not change meanwhile. */
export function cloneEnv(
  admin: EnvAdmin,
  caller: Caller,
  params: { from: string; name: string; shared?: boolean; op?: string },
  progress: ProgressSink,
) {
  return admin.audited(caller, 'envs.clone', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'envs.clone');
    const from = validateEnvRef(params.from, 'from');
    const name = validateEnvName(params.name);
    trail.details = { from, name, shared: params.shared === true };

    const conda = await admin.conda();
    const ctx = admin.targets(conda);
    const source = await findEnv(ctx, user, from);
    const target = await newTarget(ctx, user, name, params.shared === true, 'envs.clone');
    const command = argv.cloneArgv(conda, target.prefix, source.prefix);
    return changeNewEnv(admin, conda, {
      caller,
      method: 'envs.clone',
      opId: params.op,
      target,
      argv: command,
      progress,
      trail,
      extraLocks: [source.prefix],
    });
  });
}

/** envs.ensureKernel: installs the spyder-kernels series the client's Spyder needs, if missing. */
export function ensureKernel(
  admin: EnvAdmin,
  caller: Caller,
  params: { env: string; spyder?: string; op?: string },
  progress: ProgressSink,
) {
  return admin.audited(caller, 'envs.ensureKernel', async (trail) => {
    const user = caller.account;
    admin.policy.assertEnabled(user, 'envs.ensureKernel');
    const ref = validateEnvRef(params.env);
    const requirement = params.spyder === undefined ? null : kernelRequirement(params.spyder);
    if (params.spyder !== undefined && requirement === null) {
      throw new SksdError('spyder_version_unknown', {
        data: { spyder: params.spyder.slice(0, 32) },
      });
    }
    const conda = await admin.conda();
    const target = await changeTarget(admin.targets(conda), user, ref, 'envs.ensureKernel');
    const env = { name: target.name, prefix: target.prefix };
    const probe = () => probeSpyderKernels(target.runAs, target.prefix, { logger: admin.logger });
    const before = await probe();

    const fits =
      before.importable &&
      (params.spyder === undefined ||
        checkCompatibility(params.spyder, before.version).verdict === 'compatible');
    if (fits)
      return {
        op: null,
        env,
        spec: null,
        changed: false,
        before: before.version,
        after: before.version,
      };

    const spec = parseSpec(requirement?.spec ?? 'spyder-kernels');
    trail.details = { spec: spec.spec, spyder: requirement?.spyder ?? null };
    admin.policy.assertSpecs([spec]);
    const choice = await admin.channelChoice(target.runAs, []);
    const command = argv.installArgv(conda, target.prefix, [spec.spec], choice);
    const result = await admin.change({
      caller,
      method: 'envs.ensureKernel',
      opId: params.op,
      target,
      argv: command,
      progress,
      trail,
    });
    const after = await probe();
    return {
      op: result.op,
      env,
      spec: spec.spec,
      changed: true,
      before: before.version,
      after: after.version,
    };
  });
}
