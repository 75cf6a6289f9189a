/**
 * The compatibility gate of kernels.start: a client that says which Spyder it runs gets a coded
 * refusal naming the spyder-kernels series it needs, instead of a kernel Spyder will not use.
 */
import type { ResolvedEnv } from '../conda/envs.js';
import type { Logger } from '../log.js';
import { SksdError } from '../rpc/errors.js';
import { checkCompatibility } from './compat.js';

/**
 * Throws spyder_incompatible unless the env's spyder-kernels fits the Spyder version. A Spyder
 * series the table does not know (a release newer than this daemon) is let through and logged:
 * refusing it would lock out every user of a new Spyder until sksd is updated.
 */
export function assertCompatible(spyder: string, env: ResolvedEnv, logger: Logger): void {
  const have = env.spyderKernels.version;
  const result = checkCompatibility(spyder, have);
  if (result.verdict === 'compatible') return;

  if (result.verdict === 'unknown_spyder') {
    logger.info(
      { spyder, spyderKernels: have, env: env.prefix },
      'Spyder version not in the table',
    );
    return;
  }

  const { requirement } = result;
  throw new SksdError('spyder_incompatible', {
    message:
      `Spyder ${requirement.spyder} needs spyder-kernels ${requirement.series}.x, but ` +
      `${env.name} has ${have ?? 'an unknown version'}; install ${requirement.spec} in it`,
    data: {
      env: env.name,
      spyder: requirement.spyder,
      spyderKernels: have,
      needed: requirement.series,
      spec: requirement.spec,
    },
    logDetail: `${env.prefix}: spyder-kernels ${String(have)} for Spyder ${spyder}`,
  });
}
