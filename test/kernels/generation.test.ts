/**
 * Finding the kernel's own python in its process group, with a FAKE spyder_kernels.console that
 * forks a worker with the same argv (as multiprocessing does): the interrupt must reach the
 * parent, never the worker, conda or bash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { findKernelPid, isKernelPid, signalFromExitCode } from '../../src/kernels/generation.js';
import { isKernelArgv, Kernel } from '../../src/kernels/kernel.js';
import { signalGroup } from '../../src/process/group.js';
import { groupMembers } from '../../src/process/tree.js';
import { eventually } from './support.js';

const dir = mkdtempSync('/tmp/sksd-gen-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const ROOT: UserAccount = {
  name: 'root',
  uid: 0,
  gid: 0,
  home: '/root',
  shell: '/bin/sh',
  groups: [0],
  groupNames: ['root'],
};

describe('the kernel process of a generation', () => {
  it('is the topmost `python -m spyder_kernels.console -f FILE` of the group', async () => {
    const pkg = join(dir, 'spyder_kernels');
    mkdirSync(pkg);
    writeFileSync(join(pkg, '__init__.py'), '');
    writeFileSync(join(pkg, 'console.py'), 'import os, time\nos.fork()\ntime.sleep(60)\n');
    const file = join(dir, 'kernel-abc.json');
    const python = `/usr/bin/python3 -m spyder_kernels.console -f ${file}`;
    const child = spawn('/bin/bash', ['-c', `${python}; true`], {
      detached: true,
      stdio: 'ignore',
      env: { PYTHONPATH: dir, PATH: '/usr/bin:/bin' },
    });
    children.push(child);
    const pgid = child.pid as number;
    const members = await eventually(
      () => groupMembers(pgid),
      (m) => m.length === 3,
    );
    expect(members).toHaveLength(3);

    const kernel = new Kernel('abc', ROOT, 'e', '/p', '/', null, {} as never, {
      connection: file,
      log: join(dir, 'kernel-abc.log'),
    });
    kernel.process = { pgid, child, exited: false, exitCode: null, signal: null };
    const pid = await findKernelPid(kernel);
    const parent = members.find((p) => p.pid === pid);
    expect(parent?.ppid).toBe(pgid);
    expect(await isKernelPid(kernel, pid as number)).toBe(true);
    expect(await isKernelPid(kernel, pgid)).toBe(false);
  });

  it('recognises the kernel argv and not conda’s, which carries the same words later', () => {
    const file = '/run/sksd/kernels/a/kernel-x.json';
    const kernelArgs = ['python', '-m', 'spyder_kernels.console', '-f', file, '--ip=10.0.0.1'];
    expect(isKernelArgv(kernelArgs, file)).toBe(true);
    expect(
      isKernelArgv(['/usr/bin/python3', '/opt/conda/bin/conda', 'run', ...kernelArgs], file),
    ).toBe(false);
    expect(isKernelArgv(kernelArgs, '/run/sksd/kernels/a/kernel-y.json')).toBe(false);
  });

  it('reads a signal from the 128+N exit code bash passes through conda run', () => {
    expect(signalFromExitCode(137)).toBe('SIGKILL');
    expect(signalFromExitCode(143)).toBe('SIGTERM');
    expect(signalFromExitCode(3)).toBeNull();
    expect(signalFromExitCode(null)).toBeNull();
  });
});
