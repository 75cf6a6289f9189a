/** Helpers shared by the kernel tests: a KernelManager on the stand-in, coded errors, polling. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { expect } from 'vitest';
import type { CondaExecutable } from '../../src/conda/locate.js';
import type { KernelManagerOptions } from '../../src/kernels/manager.js';
import { SksdError } from '../../src/rpc/errors.js';
import { createEnvWithoutSpyderKernels, type CondaRoot } from '../helpers/conda.js';

/**
 * KernelManager options on the stand-in conda of `root`, with a silent log and timeouts short
 * enough for tests; a test spreads its own limits and overrides over them.
 */
export function managerOptions(
  root: CondaRoot,
  runtimeDir: string,
  perUser: number,
): KernelManagerOptions {
  const conda: CondaExecutable = { path: root.conda, flavour: 'conda', source: 'config' };
  return {
    conda: async () => conda,
    runtimeDir,
    startTimeoutMs: 30_000,
    shutdownGraceMs: 1000,
    perUser,
    logger: pino({ level: 'silent' }),
  };
}

/** Polls until `check` holds or `timeoutMs` passes; returns its last value. */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

/** Awaits a rejection with the named SksdError and returns it. */
export async function expectCode(promise: Promise<unknown>, name: string): Promise<SksdError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SksdError);
  expect((error as SksdError).errorName).toBe(name);
  return error as SksdError;
}

/**
 * A STAND-IN environment whose spyder_kernels reports `version` but is not a kernel: enough for
 * the compatibility check, which refuses before anything is spawned.
 */
export function createEnvReportingVersion(root: CondaRoot, name: string, version: string): string {
  const prefix = createEnvWithoutSpyderKernels(root, name);
  const python = join(prefix, 'bin', 'python');
  const code = 'import sysconfig; print(sysconfig.get_paths()["purelib"])';
  const site = execFileSync(python, ['-c', code], { encoding: 'utf8' }).trim();
  mkdirSync(join(site, 'spyder_kernels'), { recursive: true });
  writeFileSync(join(site, 'spyder_kernels', '__init__.py'), `__version__ = "${version}"\n`);
  return prefix;
}

/**
 * Code that spins until interrupted, after touching `marker`: once the file exists the kernel is
 * inside user code, where SIGINT becomes KeyboardInterrupt. Waiting for `busy` alone is not
 * enough: busy is published before the kernel reaches the code.
 */
export function spinCode(marker: string): string {
  return `open(${JSON.stringify(marker)}, 'w').close()\nwhile True: pass`;
}

/**
 * Code that makes the kernel die at once with exit status 3, after writing `message` to its log
 * file (found among its open descriptors), so that the log tail of the exit can be checked.
 */
export function crashCode(message: string): string {
  return `
import os
for fd in os.listdir('/proc/self/fd'):
    try:
        if os.readlink(f'/proc/self/fd/{fd}').endswith('.log'):
            os.write(int(fd), ${JSON.stringify(`${message}\n`)}.encode())
    except OSError:
        pass
os._exit(3)
`;
}
