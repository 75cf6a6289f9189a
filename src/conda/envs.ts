/**
 * A user's conda environments, always asked as that user: run as root, `conda env list` reads
 * every user's ~/.conda/environments.txt and can fail on home directories root cannot read (NFS
 * root squash). The spyder-kernels check runs the environment's own python as the user too.
 */
import { basename, dirname, isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import type { EnvSummary } from '../rpc/methods.js';
import { SksdError } from '../rpc/errors.js';
import { runAsUser } from '../process/run-as-user.js';
import type { CondaExecutable } from './locate.js';

/** An environment the user named, resolved to its prefix and checked for spyder-kernels. */
export interface ResolvedEnv {
  readonly name: string;
  readonly prefix: string;
  /** Whether the user gave an absolute prefix rather than a name. */
  readonly byPrefix: boolean;
  readonly spyderKernels: { readonly importable: true; readonly version: string | null };
}

/** Deadlines and limits for listing; the defaults suit an interactive RPC call. */
export interface EnvsOptions {
  readonly logger: Logger;
  readonly listTimeoutMs?: number;
  readonly probeTimeoutMs?: number;
  /** Environments probed at once; each probe is one python start (about 50 ms of CPU). */
  readonly concurrency?: number;
}

// Newer conda adds envs_details ({prefix: {name, base, ...}}); older ones print only envs.
const EnvListJson = z.object({
  envs: z.array(z.string()),
  envs_details: z.record(z.string(), z.object({ base: z.boolean().optional() })).optional(),
});

const ProbeJson = z.object({ importable: z.boolean(), version: z.string().nullable() });

// Imports only the package, not spyder_kernels.console: that would pull in IPython (about 1 s).
const PROBE = [
  'import json',
  'try:',
  '    import spyder_kernels as s',
  "    r = {'importable': True, 'version': str(getattr(s, '__version__', '')) or None}",
  'except Exception:',
  "    r = {'importable': False, 'version': None}",
  'print(json.dumps(r))',
].join('\n');

/** Runs `CONDA env list --json` as the user and returns the prefixes with their names. */
export async function listPrefixes(
  conda: CondaExecutable,
  user: UserAccount,
  options: EnvsOptions,
): Promise<{ name: string; prefix: string }[]> {
  const argv = [conda.path, 'env', 'list', '--json'];
  const result = await runAsUser(user, argv, {
    timeoutMs: options.listTimeoutMs ?? 30_000,
    logger: options.logger,
  });
  const failed = (detail: string) =>
    new SksdError('conda_failed', { logDetail: `${user.name}: conda env list: ${detail}` });
  if (result.timedOut) throw failed(`no answer within ${result.durationMs} ms`);
  if (result.exitCode === 127) {
    const logDetail = `${conda.path}: ${result.stderr.trim()}`;
    throw new SksdError('conda_unavailable', { logDetail });
  }
  if (result.exitCode !== 0) throw failed(`exit ${result.exitCode}: ${result.stderr.slice(-2000)}`);

  let parsed: z.infer<typeof EnvListJson>;
  try {
    parsed = EnvListJson.parse(JSON.parse(result.stdout));
  } catch (error) {
    throw failed(`unexpected output: ${(error as Error).message}`);
  }

  // conda's root prefix is the directory above its bin/ (or condabin/).
  const root = dirname(dirname(conda.path));
  return parsed.envs
    .filter((prefix) => isAbsolute(prefix))
    .map((prefix) => {
      const base = parsed.envs_details?.[prefix]?.base === true || prefix === root;
      return { name: base ? 'base' : basename(prefix), prefix };
    });
}

/** Whether spyder_kernels imports in the environment's python, run as the user, and its version. */
export async function probeSpyderKernels(
  user: UserAccount,
  prefix: string,
  options: EnvsOptions,
): Promise<EnvSummary['spyderKernels']> {
  const argv = [`${prefix}/bin/python`, '-c', PROBE];
  const timeoutMs = options.probeTimeoutMs ?? 15_000;
  try {
    const result = await runAsUser(user, argv, { timeoutMs, logger: options.logger });
    const line = result.stdout.trim().split('\n').pop() ?? '';
    if (result.exitCode === 0) return ProbeJson.parse(JSON.parse(line));
    options.logger.debug({ user: user.name, prefix, exitCode: result.exitCode }, 'probe failed');
  } catch (err) {
    // A prefix spawnAsUser refuses, or a python printing something else: not a kernel env.
    options.logger.debug({ user: user.name, prefix, err }, 'probe failed');
  }
  return { importable: false, version: null };
}

/** Maps items with at most `limit` promises pending, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The user's environments with their spyder-kernels status, as envs.list reports them. */
export async function listEnvs(
  conda: CondaExecutable,
  user: UserAccount,
  options: EnvsOptions,
): Promise<EnvSummary[]> {
  const envs = await listPrefixes(conda, user, options);
  return mapLimit(envs, options.concurrency ?? 4, async (env) => ({
    ...env,
    spyderKernels: await probeSpyderKernels(user, env.prefix, options),
  }));
}

/**
 * Resolves a name or an absolute prefix among the user's environments. With two environments of
 * one name the first listed wins; kernels are then started by prefix, so the environment that was
 * checked is the one that runs.
 */
export async function resolveEnv(
  conda: CondaExecutable,
  user: UserAccount,
  ref: string,
  options: EnvsOptions,
): Promise<ResolvedEnv> {
  const byPrefix = isAbsolute(ref);
  const wanted = byPrefix ? normalize(ref).replace(/(.)\/+$/, '$1') : ref;
  const envs = await listPrefixes(conda, user, options);
  const env = envs.find((e) => (byPrefix ? e.prefix === wanted : e.name === wanted));
  if (env === undefined) {
    throw new SksdError('env_not_found', { logDetail: `${user.name}: ${JSON.stringify(ref)}` });
  }

  const spyderKernels = await probeSpyderKernels(user, env.prefix, options);
  if (!spyderKernels.importable) {
    throw new SksdError('spyder_kernels_missing', {
      data: { env: env.name },
      logDetail: `${user.name}: ${env.prefix}`,
    });
  }
  return { ...env, byPrefix, spyderKernels: { importable: true, version: spyderKernels.version } };
}
