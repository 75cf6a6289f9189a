/**
 * Remembers for a minute which prefix an environment name resolved to and which spyder-kernels
 * it had, per user and conda executable. Resolving runs `conda env list` and the env's python as
 * the user: about 70 ms with the stand-in, and 0.5 to 1 s with real conda, which imports itself
 * on every call. A user opening a second console in the same env should not pay that again.
 *
 * An entry holds only while the env's conda-meta/history keeps its modification time: conda
 * appends to it on every install, update and removal, so a changed env is resolved afresh, and a
 * removed one (no history) is too. What the history does not see (a `pip install` into the env)
 * can be stale for up to TTL_MS; a kernel start then fails with the kernel's own error.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { UserAccount } from '../auth/users.js';
import type { ResolvedEnv } from '../conda/envs.js';
import type { CondaExecutable } from '../conda/locate.js';

/** How long a resolution is trusted at most. */
export const TTL_MS = 60_000;
const MAX_ENTRIES = 1000;

interface Entry {
  readonly env: ResolvedEnv;
  readonly historyMtimeMs: number;
  readonly at: number;
}

async function historyMtime(prefix: string): Promise<number | null> {
  return stat(join(prefix, 'conda-meta', 'history')).then(
    (s) => s.mtimeMs,
    () => null,
  );
}

/** Resolutions by user, conda executable and the name or prefix the user gave. */
export class EnvCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The cached resolution, or the one `resolve` makes (and caches). Failures are not cached. */
  async resolve(
    conda: CondaExecutable,
    user: UserAccount,
    ref: string,
    resolve: () => Promise<ResolvedEnv>,
  ): Promise<ResolvedEnv> {
    const key = `${user.uid}\0${user.name}\0${conda.path}\0${ref}`;
    const cached = this.entries.get(key);
    if (cached !== undefined && this.now() - cached.at < TTL_MS) {
      if ((await historyMtime(cached.env.prefix)) === cached.historyMtimeMs) return cached.env;
    }

    this.entries.delete(key);
    const env = await resolve();
    const mtime = await historyMtime(env.prefix);
    if (mtime !== null) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { env, historyMtimeMs: mtime, at: this.now() });
    }
    return env;
  }
}
