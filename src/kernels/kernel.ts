/**
 * One kernel's state: who owns it, where its files are, its process group, and a small state
 * machine (starting -> running -> stopping -> dead; starting -> stopping on a failed start).
 */
import type { ChildProcess } from 'node:child_process';
import type { UserAccount } from '../auth/users.js';
import type { ConnectionInfo, KernelState, KernelSummary } from '../rpc/methods.js';
import type { CondaExecutable } from '../conda/locate.js';
import type { EndedHow, TerminationOutcome } from '../process/terminate.js';

/** kernels.start as the manager sees it. */
export interface StartRequest {
  readonly user: UserAccount;
  /** An environment name or an absolute prefix. */
  readonly env: string;
  readonly cwd?: string;
  /** IPv4 address the kernel binds and the client connects to; never 0.0.0.0. */
  readonly address: string;
}

/** What kernels.start returns. */
export interface StartResult {
  readonly id: string;
  readonly env: string;
  readonly spyderKernels: string | null;
  readonly connection: ConnectionInfo;
}

/** What kernels.shutdown returns, plus detail for the log. */
export interface ShutdownResult {
  readonly id: string;
  readonly outcome: EndedHow;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly durationMs: number;
}

/** Emitted as 'state' on every state change, for notifications (issue #3). */
export interface KernelEvent {
  readonly id: string;
  readonly user: string;
  readonly env: string;
  readonly state: KernelState;
}

/** The per-kernel files in the user's runtime directory. */
export interface KernelFiles {
  readonly connection: string;
  readonly log: string;
}

/**
 * The kernel command. Always `-p PREFIX`, also for a name: the prefix is the environment that was
 * just checked for spyder-kernels, while `-n` would let conda look the name up again in its own
 * envs_dirs order. `--no-capture-output` because conda run otherwise holds all output until the
 * command exits. micromamba's run reference lists no such flag and attaches the streams by
 * default (not testable here; mamba 2 shares micromamba's CLI and may need the same treatment).
 */
export function kernelArgv(
  conda: CondaExecutable,
  prefix: string,
  connectionFile: string,
  address: string,
): string[] {
  const live = conda.flavour === 'micromamba' ? [] : ['--no-capture-output'];
  return [
    conda.path,
    'run',
    ...live,
    '-p',
    prefix,
    'python',
    '-m',
    'spyder_kernels.console',
    '-f',
    connectionFile,
    `--ip=${address}`,
  ];
}

/** A kernel the manager knows about, from the moment its process was spawned. */
export class Kernel {
  state: KernelState = 'starting';
  /** Set once the leader (conda) has exited or failed to spawn. */
  exited = false;
  /** The one stop in progress or done; stop is idempotent through it. */
  stopping: Promise<TerminationOutcome> | null = null;
  readonly startedAt = new Date();

  constructor(
    readonly id: string,
    readonly user: UserAccount,
    /** The environment as the user knows it: its name, or the prefix they gave. */
    readonly env: string,
    readonly prefix: string,
    readonly connection: ConnectionInfo,
    readonly files: KernelFiles,
    readonly child: ChildProcess,
  ) {}

  /** The process group id: conda's pid, which spawnAsUser made a session leader. */
  get pgid(): number | null {
    return this.child.pid ?? null;
  }

  /** Whether the kernel belongs to this account (name and uid, so a reused name does not match). */
  ownedBy(user: UserAccount): boolean {
    return this.user.uid === user.uid && this.user.name === user.name;
  }

  /** The kernel as kernels.list reports it. */
  summary(): KernelSummary {
    return {
      id: this.id,
      env: this.env,
      state: this.state,
      pid: this.pgid,
      kernelPid: null,
      startedAt: this.startedAt.toISOString(),
      spyderKernels: null,
      restarts: 0,
      lastActivity: null,
      exit: null,
      connection: this.connection,
    };
  }
}
