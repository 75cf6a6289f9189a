/**
 * One kernel: who owns it, where its files are, the process generation running it now (a restart
 * makes a new one with the same id and connection), and a small lifecycle:
 * starting -> running <-> restarting, then stopping -> dead from any of them.
 */
import type { ChildProcess } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import type { UserAccount } from '../auth/users.js';
import type { CondaExecutable } from '../conda/locate.js';
import type { ConnectionInfo, KernelExit, KernelState, KernelSummary } from '../rpc/methods.js';
import type { EndedHow, TerminationOutcome } from '../process/terminate.js';
import type { IopubMonitor } from './monitor.js';
import type { KernelRecord } from './state-file.js';

/** kernels.start as the manager sees it. */
export interface StartRequest {
  readonly user: UserAccount;
  /** An environment name or an absolute prefix. */
  readonly env: string;
  readonly cwd?: string;
  /** IPv4 address the kernel binds and the client connects to; never 0.0.0.0. */
  readonly address: string;
  /** The client's Spyder version, checked against the env's spyder-kernels series. */
  readonly spyder?: string;
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

/** Emitted as 'state' on every lifecycle change; `exit` is set when a kernel died unasked. */
export interface KernelEvent {
  readonly id: string;
  readonly user: string;
  readonly env: string;
  readonly state: KernelState;
  readonly exit?: KernelExit;
}

/** The per-kernel files in the user's runtime directory. */
export interface KernelFiles {
  readonly connection: string;
  readonly log: string;
}

/** The lifecycle; `running` splits into idle, busy or running (unknown) for clients. */
export type Phase = 'starting' | 'running' | 'restarting' | 'stopping' | 'dead';

/** Why a kernel is being stopped: the user's request, the daemon, or what the kernel did. */
export type StopReason = 'shutdown' | 'daemon_stopped' | 'start_failed' | KernelExit['reason'];

/** One generation of a kernel's processes: `conda run`, bash and python in one process group. */
export interface KernelProcess {
  readonly pgid: number;
  /** conda run when this daemon spawned it; null for a kernel adopted from a previous daemon. */
  readonly child: ChildProcess | null;
  exited: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
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

/** Whether argv is the kernel itself (`python -m spyder_kernels.console ...`) for that file. */
export function isKernelArgv(argv: readonly string[], connectionFile: string): boolean {
  return argv[1] === '-m' && argv[2] === 'spyder_kernels.console' && argv.includes(connectionFile);
}

/** A kernel the manager knows about, from the moment its record is saved. */
export class Kernel {
  phase: Phase = 'starting';
  /** What the kernel last published on IOPub; null until known. */
  execution: 'idle' | 'busy' | null = null;
  process: KernelProcess | null = null;
  /** The kernel's own python, once found; checked again before it is signalled. */
  kernelPid: number | null = null;
  /** Whether it ever answered kernel_info; only such kernels are adopted after a restart. */
  ready = false;
  restarts = 0;
  /** Epoch ms of the last client activity (or of the start), for idle culling. */
  lastActivity = Date.now();
  exit: KernelExit | null = null;
  /** The log's last lines, read just before the log was removed. */
  finalTail: string[] = [];
  /** The daemon's descriptor of the log: output of every generation, and the tail on death. */
  log: FileHandle | null = null;
  monitor: IopubMonitor | null = null;
  /** The one stop in progress or done; stop is idempotent through it. */
  stopping: Promise<TerminationOutcome> | null = null;
  /** The restart in progress, so a second request waits for the same one. */
  restarting: Promise<void> | null = null;

  constructor(
    readonly id: string,
    readonly user: UserAccount,
    /** The environment as the user knows it: its name, or the prefix they gave. */
    readonly env: string,
    readonly prefix: string,
    readonly cwd: string,
    readonly spyderKernels: string | null,
    readonly connection: ConnectionInfo,
    readonly files: KernelFiles,
    readonly startedAt: Date = new Date(),
  ) {}

  /** The state clients see. */
  get state(): KernelState {
    return this.phase === 'running' ? (this.execution ?? 'running') : this.phase;
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
      pid: this.process?.pgid ?? null,
      kernelPid: this.kernelPid,
      startedAt: this.startedAt.toISOString(),
      spyderKernels: this.spyderKernels,
      restarts: this.restarts,
      lastActivity: this.phase === 'dead' ? null : new Date(this.lastActivity).toISOString(),
      exit: this.exit,
      connection: this.connection,
    };
  }

  /** The kernel as the state file keeps it. */
  record(): KernelRecord {
    return {
      id: this.id,
      user: { name: this.user.name, uid: this.user.uid },
      env: this.env,
      prefix: this.prefix,
      cwd: this.cwd,
      spyderKernels: this.spyderKernels,
      connection: this.connection,
      files: this.files,
      pgid: this.process?.pgid ?? null,
      ready: this.ready,
      startedAt: this.startedAt.toISOString(),
      restarts: this.restarts,
    };
  }
}
