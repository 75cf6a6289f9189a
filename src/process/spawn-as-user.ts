/**
 * The one reviewed place where sksd starts a process as a Unix user. Everything that runs user
 * code or user-owned tools (conda, an environment's python, the kernel) goes through spawnAsUser.
 *
 * As root it runs `setpriv --reuid --regid --init-groups -- env --chdir=DIR -- CMD...`: both exec
 * in place, so the returned pid is CMD's own pid, and the chdir happens after the switch, so the
 * kernel never holds a working directory that only root could enter. Node's own uid/gid options
 * are not used because libuv calls setgroups(0, NULL) and the user would lose supplementary
 * groups (video, project and shared-data groups).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { isAbsolute } from 'node:path';
import type { UserAccount } from '../auth/users.js';
import { SksdError } from '../rpc/errors.js';

const SETPRIV = '/usr/bin/setpriv';
const ENV = '/usr/bin/env';

/** PATH for every user process; conda run puts the environment's bin/ in front of it. */
export const USER_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The umask every user process starts with: kernels write history and secrets into home. */
export const USER_UMASK = 0o077;

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** How to start a process as a user. */
export interface SpawnAsUserOptions {
  /** Absolute working directory, entered as the user; the user's home when omitted. */
  cwd?: string;
  /** Variables added to the allowlisted environment, e.g. PYDEVD_DISABLE_FILE_VALIDATION. */
  extraEnv?: Readonly<Record<string, string>>;
  /** An open fd that receives both stdout and stderr, or 'pipe' for the caller to read. */
  output: number | 'pipe';
  /**
   * The umask, USER_UMASK when omitted. Only changes to shared conda environments widen it
   * (022): everyone's kernels must read what the admin installs there.
   */
  umask?: number;
}

/**
 * The complete environment of a user process. It is built from the account alone, never copied
 * from the daemon: conda reads SUDO_UID/SUDO_GID and then chowns files (conda/conda#7267), and the
 * daemon's variables are nobody else's business. LANG is fixed to C.UTF-8 (present on every
 * Debian) so Python's I/O is UTF-8; a user's own locale belongs in their shell setup.
 */
export function userEnvironment(
  user: UserAccount,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    PATH: USER_PATH,
    LANG: 'C.UTF-8',
  };

  for (const [name, value] of Object.entries(extra)) {
    if (!ENV_NAME.test(name) || name in env || value.includes('\0')) {
      throw new Error(`refusing extra environment variable ${JSON.stringify(name)}`);
    }
    env[name] = value;
  }
  return env;
}

/** The argv that switches to the user (when needed) and enters cwd as that user. */
function wrappedArgv(user: UserAccount, cwd: string, argv: readonly string[]): string[] {
  // env treats a leading NAME=VALUE word as an assignment even after "--".
  const [command] = argv;
  if (command === undefined || !isAbsolute(command) || command.includes('=')) {
    throw new Error(`command must be an absolute path without "=": ${String(command)}`);
  }

  const enter = [ENV, `--chdir=${cwd}`, '--', ...argv];
  const self = process.getuid?.();
  if (self === user.uid) return enter;

  if (self !== 0) {
    throw new SksdError('forbidden', {
      logDetail: `daemon runs as uid ${String(self)} and cannot start processes for ${user.name}`,
    });
  }
  const ids = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups'];
  return [SETPRIV, ...ids, '--', ...enter];
}

/**
 * Starts argv as the user in a new session (its pid is its process group id), stdin closed,
 * output to options.output, umask 077, allowlisted environment. The caller owns the child: it
 * must observe 'exit' and stop the group with terminateGroup.
 */
export function spawnAsUser(
  user: UserAccount,
  argv: readonly string[],
  options: SpawnAsUserOptions,
): ChildProcess {
  const cwd = options.cwd ?? user.home;
  if (!isAbsolute(cwd) || cwd.includes('\0')) {
    throw new SksdError('cwd_not_allowed', { logDetail: `cwd is not an absolute path: ${cwd}` });
  }

  const [file, ...args] = wrappedArgv(user, cwd, argv);
  const out = options.output;
  const stdio: StdioOptions = out === 'pipe' ? ['ignore', 'pipe', 'pipe'] : ['ignore', out, out];

  // Node has no umask option for spawn. The child inherits the umask at fork, which happens
  // synchronously inside spawn(), so swapping it around the call is exact for the child. Other
  // threads creating files meanwhile would only get a stricter mask; a daemon that sets 077 at
  // start (recommended) makes the swap a no-op.
  const previous = process.umask(options.umask ?? USER_UMASK);
  try {
    return spawn(file as string, args, {
      cwd: '/',
      env: userEnvironment(user, options.extraEnv),
      stdio,
      detached: true,
      windowsHide: true,
    });
  } finally {
    process.umask(previous);
  }
}
