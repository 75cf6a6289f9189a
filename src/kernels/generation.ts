/**
 * One generation of a kernel's processes: spawned as the user through spawnAsUser, watched for its
 * exit, and searched for the kernel's own python, which is the process an interrupt must reach.
 * `conda run` forwards no signal (conda/conda#10351), so SIGINT to conda's pid would kill conda
 * and leave the kernel running; the python is the member of the group whose argv is
 * `python -m spyder_kernels.console ... -f FILE` and whose parent is not such a process itself
 * (a forked multiprocessing worker has the same argv).
 */
import { once } from 'node:events';
import { constants } from 'node:os';
import type { CondaExecutable } from '../conda/locate.js';
import { SksdError } from '../rpc/errors.js';
import { spawnAsUser } from '../process/spawn-as-user.js';
import { groupMembers, readProcInfo } from '../process/tree.js';
import { isKernelArgv, kernelArgv, type Kernel, type KernelProcess } from './kernel.js';
import { waitUntilReady } from './ready.js';

// Variables the kernel gets besides the allowlist. Nothing like SPY_PARENT_PID or JPY_PARENT_PID:
// those make a kernel exit with the process they name, and the daemon's policy decides that.
const KERNEL_ENV = { PYDEVD_DISABLE_FILE_VALIDATION: '1' };

/**
 * Spawns a generation with the kernel's connection file and log; `onExit` runs once when its
 * leader (conda run) exits. Rejects with kernel_start_failed when nothing could be spawned.
 */
export async function spawnGeneration(
  kernel: Kernel,
  conda: CondaExecutable,
  onExit: (generation: KernelProcess) => void,
): Promise<KernelProcess> {
  if (kernel.log === null) throw new Error(`kernel ${kernel.id} has no log to write to`);

  const argv = kernelArgv(conda, kernel.prefix, kernel.files.connection, kernel.connection.ip);
  const output = kernel.log.fd;
  const child = spawnAsUser(kernel.user, argv, { cwd: kernel.cwd, output, extraEnv: KERNEL_ENV });
  if (child.pid === undefined) {
    const [error] = (await once(child, 'error')) as [Error];
    throw new SksdError('kernel_start_failed', { logDetail: error.message, cause: error });
  }

  const generation: KernelProcess = {
    pgid: child.pid,
    child,
    exited: false,
    exitCode: null,
    signal: null,
  };
  const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (generation.exited) return;
    Object.assign(generation, { exited: true, exitCode: code, signal });
    onExit(generation);
  };
  child.once('exit', exited);
  child.once('error', () => exited(null, null));
  return generation;
}

/** Waits for kernel_info_reply from this generation; false on timeout, exit or `abandoned`. */
export async function awaitGeneration(
  kernel: Kernel,
  generation: KernelProcess,
  deadline: number,
  abandoned: () => boolean,
): Promise<boolean> {
  const info = await waitUntilReady(kernel.connection, {
    deadline,
    exited: () => generation.exited || abandoned(),
  });
  return info !== null && !generation.exited && !abandoned();
}

/** The pid of the kernel's own python in the generation's group, or null when there is none. */
export async function findKernelPid(kernel: Kernel): Promise<number | null> {
  const generation = kernel.process;
  if (generation === null) return null;

  const members = await groupMembers(generation.pgid);
  const kernels = members.filter(
    (p) => p.uid === kernel.user.uid && isKernelArgv(p.argv, kernel.files.connection),
  );
  const pids = new Set(kernels.map((p) => p.pid));
  const top = kernels.filter((p) => !pids.has(p.ppid)).sort((a, b) => a.pid - b.pid);
  return top[0]?.pid ?? null;
}

/** Whether pid is still the kernel's python: same group, owner and argv (pids get reused). */
export async function isKernelPid(kernel: Kernel, pid: number): Promise<boolean> {
  const info = await readProcInfo(pid);
  return (
    info !== null &&
    info.pgrp === kernel.process?.pgid &&
    info.uid === kernel.user.uid &&
    isKernelArgv(info.argv, kernel.files.connection)
  );
}

/**
 * The signal behind an exit code that `conda run` passed through: bash reports a child killed by
 * signal N as 128 + N, and conda exits with that code. A program may exit 130 on its own, so this
 * is what the shell saw, not proof.
 */
export function signalFromExitCode(code: number | null): NodeJS.Signals | null {
  if (code === null || code <= 128 || code > 128 + 64) return null;

  const entry = Object.entries(constants.signals).find(([, n]) => n === code - 128);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}
