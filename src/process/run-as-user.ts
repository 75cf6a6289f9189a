/**
 * Short commands as a user (conda env list, an environment's python probe, the cwd check), built
 * on spawnAsUser so that uid, groups and environment are still set in exactly one place. Output is
 * captured with a cap and the whole group is stopped at the deadline.
 */
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import { SksdError } from '../rpc/errors.js';
import { spawnAsUser } from './spawn-as-user.js';
import { terminateGroup } from './terminate.js';

/** The outcome of a short command. */
export interface RunResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

/** Options for runAsUser. */
export interface RunOptions {
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly cwd?: string;
  /** Bytes kept per stream; the rest is dropped (a runaway command must not fill memory). */
  readonly maxOutputBytes?: number;
}

/** Collects a stream up to a byte cap. */
function collector(cap: number): { push: (chunk: Buffer) => void; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      if (size >= cap) return;
      chunks.push(chunk.subarray(0, cap - size));
      size += Math.min(chunk.length, cap - size);
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** Runs argv as the user and resolves when it exited and its output closed, or at the deadline. */
export async function runAsUser(
  user: UserAccount,
  argv: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const started = Date.now();
  const cap = options.maxOutputBytes ?? 1024 * 1024;
  const stdout = collector(cap);
  const stderr = collector(cap);
  const child = spawnAsUser(user, argv, { output: 'pipe', cwd: options.cwd });
  child.stdout?.on('data', stdout.push);
  child.stderr?.on('data', stderr.push);

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid === undefined) return;
    terminateGroup({ pgid: child.pid, leader: child, termGraceMs: 1000, logger: options.logger })
      .catch((error: unknown) => options.logger.error({ err: error }, 'could not stop command'))
      .finally(() => {
        // A descendant that left the group may still hold the pipes; 'close' must come anyway.
        child.stdout?.destroy();
        child.stderr?.destroy();
      });
  }, options.timeoutMs);

  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', () => resolve());
    });
  } finally {
    clearTimeout(timer);
  }

  return {
    exitCode: child.exitCode,
    signal: child.signalCode,
    stdout: stdout.text(),
    stderr: stderr.text(),
    timedOut,
    durationMs: Date.now() - started,
  };
}

/**
 * Refuses a working directory the user cannot enter. The check is the real thing, chdir as the
 * user (env exits 125 when it fails), so ACLs, root-squashed NFS and missing parents all count;
 * spawnAsUser enters the directory as the user again, so a later swap gains nothing.
 */
export async function assertCwdAllowed(
  user: UserAccount,
  cwd: string,
  logger: Logger,
): Promise<void> {
  const refused = (detail: string) =>
    new SksdError('cwd_not_allowed', { logDetail: `${user.name}: ${cwd}: ${detail}` });
  if (!cwd.startsWith('/') || cwd.includes('\0') || cwd.length > 4096) {
    throw refused('not an absolute path');
  }

  const result = await runAsUser(user, ['/bin/true'], { cwd, timeoutMs: 10_000, logger });
  if (result.exitCode !== 0) {
    throw refused(result.stderr.trim() || `exit ${String(result.exitCode)}`);
  }
}
