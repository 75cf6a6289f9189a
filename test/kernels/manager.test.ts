/**
 * KernelManager end to end: a real user with an extra group, environments made by the conda
 * stand-in, Debian's spyder-kernels, and a real jupyter_client in a separate process.
 */
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { KernelManager, type KernelEvent } from '../../src/kernels/manager.js';
import type { KernelManagerOptions } from '../../src/kernels/manager.js';
import { liveMembers } from '../../src/process/group.js';
import { ConnectionInfo } from '../../src/rpc/methods.js';
import {
  createEnv,
  createEnvWithFakeKernel,
  createEnvWithoutSpyderKernels,
  makeCondaRoot,
  removeCondaRoots,
  type CondaRoot,
} from '../helpers/conda.js';
import { executeInKernel } from '../helpers/jupyter.js';
import { gidOf, processesOfUid } from '../helpers/system.js';
import { createAccount, createGroup, removeAllTestUsers } from '../helpers/users.js';
import { expectCode, managerOptions } from './support.js';

const ADDRESS = '127.0.0.1';
let root: CondaRoot;
let work: string;
let runtime: string;
let alice: UserAccount;
let bob: UserAccount;
let extraGid: number;
let manager: KernelManager;
const events: KernelEvent[] = [];
const managers: KernelManager[] = [];

const IDENTITY = `
import json, os, sys
mask = os.umask(0); os.umask(mask)
print(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
    "groups": sorted(os.getgroups()), "prefix": sys.prefix, "home": os.environ.get("HOME"),
    "user": os.environ.get("USER"), "cwd": os.getcwd(), "umask": mask, "env": sorted(os.environ)}))
`;

const KERNEL_ENV = [
  ...['HOME', 'USER', 'LOGNAME', 'SHELL', 'PATH', 'LANG', 'PYDEVD_DISABLE_FILE_VALIDATION'],
  ...['CONDA_DEFAULT_ENV', 'CONDA_PREFIX', 'CONDA_SHLVL', 'PWD', 'SHLVL', '_'],
  ...['CLICOLOR', 'GIT_PAGER', 'PAGER', 'TERM', 'MPLBACKEND', 'PYDEVD_USE_FRAME_EVAL'],
];

function makeManager(overrides: Partial<KernelManagerOptions> = {}): KernelManager {
  const made = new KernelManager({ ...managerOptions(root, runtime, 2), ...overrides });
  managers.push(made);
  return made;
}

function start(on: KernelManager, user: UserAccount, env: string, cwd?: string) {
  return on.start({ user, env, cwd, address: ADDRESS });
}

function userDir(user: UserAccount): string {
  return join(runtime, 'kernels', user.name);
}

beforeAll(async () => {
  process.env.SKSD_TEST_MARKER = 'daemon-only';
  process.env.SUDO_UID = '0';
  root = makeCondaRoot();
  work = createEnv(root, 'work');
  createEnvWithoutSpyderKernels(root, 'broken');
  const crash = 'import sys\nprint("fake kernel: no luck today", file=sys.stderr)\nsys.exit(3)\n';
  createEnvWithFakeKernel(root, 'crash', crash);
  const hang = 'import time\nprint("fake kernel: hanging", flush=True)\ntime.sleep(300)\n';
  createEnvWithFakeKernel(root, 'hang', hang);
  runtime = mkdtempSync('/tmp/sksd-run-');
  chmodSync(runtime, 0o711);

  const group = createGroup();
  extraGid = gidOf(group);
  alice = await createAccount({ tag: 'a', groups: [group] });
  bob = await createAccount({ tag: 'b' });
  manager = makeManager();
  manager.on('state', (event) => events.push(event));
});

afterAll(async () => {
  await Promise.all(managers.map((m) => m.shutdownAll()));
  delete process.env.SKSD_TEST_MARKER;
  delete process.env.SUDO_UID;
  removeAllTestUsers();
  removeCondaRoots();
  rmSync(runtime, { recursive: true, force: true });
});

describe('KernelManager', () => {
  let first: { id: string; connection: ConnectionInfo; pgid: number };

  it('starts a kernel as the user, in the env, that a real jupyter_client can use', async () => {
    const started = Date.now();
    const result = await manager.start({ user: alice, env: 'work', address: ADDRESS });
    const startMs = Date.now() - started;
    expect(result.env).toBe('work');
    expect(result.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(ConnectionInfo.parse(result.connection)).toEqual(result.connection);
    expect(startMs).toBeLessThan(10_000);

    const file = join(userDir(alice), `kernel-${result.id}.json`);
    expect(statSync(file)).toMatchObject({ uid: alice.uid, mode: 0o100600 });
    expect(statSync(userDir(alice))).toMatchObject({ uid: alice.uid, mode: expect.any(Number) });

    const run = await executeInKernel(result.connection, IDENTITY);
    expect(run.status).toBe('ok');
    const seen = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({
      uid: alice.uid,
      euid: alice.uid,
      gid: alice.gid,
      groups: [...alice.groups].sort((a, b) => a - b),
      prefix: work,
      home: alice.home,
      user: alice.name,
      cwd: alice.home,
      umask: 0o077,
    });
    expect(seen.groups).toContain(extraGid);
    expect(seen.env).not.toContain('SKSD_TEST_MARKER');
    expect(seen.env).not.toContain('SUDO_UID');
    // Every variable is sksd's allowlist or one that conda run, bash or IPython add themselves.
    expect(KERNEL_ENV).toEqual(expect.arrayContaining(seen.env as string[]));

    const [summary] = manager.list(alice);
    expect(summary).toMatchObject({ id: result.id, env: 'work', state: 'idle' });
    first = { id: result.id, connection: result.connection, pgid: summary?.pid as number };
    const states = events.filter((e) => e.id === result.id).map((e) => e.state);
    expect(states).toEqual(['starting', 'idle']);
  });

  it('starts a second kernel by prefix in a requested directory, up to perUser', async () => {
    const dir = join(alice.home, 'project');
    mkdirSync(dir);
    chownSync(dir, alice.uid, alice.gid);

    const second = await manager.start({ user: alice, env: work, cwd: dir, address: ADDRESS });
    expect(second.env).toBe(work);
    const run = await executeInKernel(second.connection, 'import os; print(os.getcwd())');
    expect(run.stdout.trim()).toBe(dir);

    const error = await expectCode(start(manager, alice, 'work'), 'limit_reached');
    expect(error.toWire().data).toMatchObject({ name: 'limit_reached', limit: 2 });
    expect(manager.list(alice).map((k) => k.state)).toEqual(['idle', 'idle']);
  });

  it('keeps users apart', async () => {
    expect(manager.list(bob)).toEqual([]);
    await expectCode(manager.shutdown(bob, first.id), 'unknown_kernel');
    await expectCode(manager.shutdown(alice, 'no-such-kernel'), 'unknown_kernel');
  });

  it('shuts a kernel down: no process of its group and no files left', async () => {
    expect((await liveMembers(first.pgid)).length).toBe(3);
    const result = await manager.shutdown(alice, first.id);

    // spyder-kernels 2.4.2 acknowledges shutdown_request and stays alive: SIGTERM ends it.
    expect(result).toMatchObject({ id: first.id, outcome: 'terminated' });
    expect(result.durationMs).toBeLessThan(5000);
    expect(await liveMembers(first.pgid)).toEqual([]);
    expect(existsSync(join(userDir(alice), `kernel-${first.id}.json`))).toBe(false);
    expect(existsSync(join(userDir(alice), `kernel-${first.id}.log`))).toBe(false);
    expect(manager.list(alice).map((k) => k.id)).not.toContain(first.id);
    const states = events.filter((e) => e.id === first.id).map((e) => e.state);
    expect(states).toEqual(['starting', 'idle', 'stopping', 'dead']);
    await expectCode(manager.shutdown(alice, first.id), 'unknown_kernel');
  });

  it('notices a kernel whose conda died and stops the orphaned bash and python', async () => {
    const [kernel] = manager.list(alice);
    const pgid = kernel?.pid as number;
    const dead = new Promise<void>((resolve) => {
      manager.on('state', (e) => e.id === kernel?.id && e.state === 'dead' && resolve());
    });

    // conda forwards no signal (conda/conda#10351): only conda dies, its group lives on.
    process.kill(pgid, 'SIGTERM');
    await dead;
    expect(await liveMembers(pgid)).toEqual([]);
    expect(readdirSync(userDir(alice))).toEqual([]);
    // Listed as dead with how it ended, until its owner acknowledges it with a shutdown.
    const [gone] = manager.list(alice);
    expect(gone).toMatchObject({ id: kernel?.id, state: 'dead', pid: pgid });
    expect(gone?.exit).toMatchObject({ reason: 'exited', exitCode: null, signal: 'SIGTERM' });
    const ack = await manager.shutdown(alice, kernel?.id as string);
    expect(ack).toMatchObject({ outcome: 'already_dead', signal: 'SIGTERM' });
    expect(manager.list(alice)).toEqual([]);
  });

  it('reports a kernel that exits at once with its output’s tail, leaving nothing', async () => {
    const error = await expectCode(start(manager, alice, 'crash'), 'kernel_start_failed');
    expect(String(error.data?.stderrTail)).toContain('fake kernel: no luck today');
    expect(processesOfUid(alice.uid)).toEqual([]);
    expect(readdirSync(userDir(alice))).toEqual([]);
    expect(manager.list(alice)).toEqual([]);
  });

  it('stops a kernel that never answers at the start timeout', async () => {
    const impatient = makeManager({ startTimeoutMs: 1500 });
    const started = Date.now();
    const error = await expectCode(start(impatient, alice, 'hang'), 'kernel_start_failed');
    expect(Date.now() - started).toBeLessThan(6000);
    expect(error.data?.stderrTail).toBe('fake kernel: hanging');
    expect(processesOfUid(alice.uid)).toEqual([]);
    expect(readdirSync(userDir(alice))).toEqual([]);
  });

  it('refuses unknown envs, envs without spyder-kernels, closed cwds, no conda', async () => {
    await expectCode(start(manager, alice, 'nope'), 'env_not_found');
    await expectCode(start(manager, alice, 'broken'), 'spyder_kernels_missing');
    const closed = join(runtime, 'root-only');
    mkdirSync(closed, { mode: 0o700 });
    await expectCode(start(manager, alice, 'work', closed), 'cwd_not_allowed');
    const noConda = makeManager({ conda: async () => null });
    await expectCode(start(noConda, alice, 'work'), 'conda_unavailable');
    expect(processesOfUid(alice.uid)).toEqual([]);
  });

  it('stops everything at daemon shutdown and then refuses to start', async () => {
    const other = makeManager();
    const { id } = await other.start({ user: bob, env: 'base', address: ADDRESS });
    const pgid = other.list(bob)[0]?.pid as number;
    expect(id).toBeTruthy();

    await other.shutdownAll();
    expect(await liveMembers(pgid)).toEqual([]);
    expect(other.list(bob)).toEqual([]);
    expect(processesOfUid(bob.uid)).toEqual([]);
    await expectCode(other.start({ user: bob, env: 'base', address: ADDRESS }), 'shutting_down');
  });
});
