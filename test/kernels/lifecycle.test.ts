/**
 * A kernel's working day through the KernelManager, with real users, the conda stand-in, Debian's
 * spyder-kernels and a long-lived jupyter_client: interrupt, restart, a crash, limits, idle
 * culling, compatibility, and adoption by the next daemon. After every test no process of any
 * test user is left.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { KernelManager, type KernelEvent } from '../../src/kernels/manager.js';
import type { KernelManagerOptions } from '../../src/kernels/manager.js';
import { liveMembers, signalGroup } from '../../src/process/group.js';
import { createEnv, createEnvWithFakeKernel, makeCondaRoot } from '../helpers/conda.js';
import { removeCondaRoots, type CondaRoot } from '../helpers/conda.js';
import { processesOfUid } from '../helpers/system.js';
import { createAccount, removeAllTestUsers } from '../helpers/users.js';
import { JupyterSession } from './jupyter-session.js';
import { createEnvReportingVersion, eventually, expectCode } from './support.js';
import { crashCode, managerOptions, spinCode } from './support.js';

const ADDRESS = '127.0.0.1';
let root: CondaRoot;
let runtime: string;
let alice: UserAccount;
let bob: UserAccount;
let carol: UserAccount;
const managers: KernelManager[] = [];
const sessions: JupyterSession[] = [];

function makeManager(overrides: Partial<KernelManagerOptions> = {}): KernelManager {
  const made = new KernelManager({ ...managerOptions(root, runtime, 4), ...overrides });
  managers.push(made);
  return made;
}

async function session(connection: Parameters<typeof JupyterSession.open>[0]) {
  const opened = await JupyterSession.open(connection);
  sessions.push(opened);
  return opened;
}

const CRASH = crashCode('going down');

// Fails the way a kernel does whose port was taken, once per user; then runs the real kernel.
// argv[0] absolute: python finds its prefix from it, and `python3` on PATH is this fake env's.
const PORT_TAKEN_ONCE = `
import os, sys
marker = os.path.expanduser('~/.port-taken-once')
if not os.path.exists(marker):
    open(marker, 'w').close()
    sys.exit('zmq.error.ZMQError: Address already in use')
os.execv('/usr/bin/python3', ['/usr/bin/python3', '-m', 'spyder_kernels.console'] + sys.argv[1:])
`;

function deathOf(manager: KernelManager, id: string): Promise<KernelEvent> {
  return new Promise((resolve) => {
    manager.on('state', (e) => e.id === id && e.state === 'dead' && resolve(e));
  });
}

beforeAll(async () => {
  // A daemon started by something that ties children to it must not pass that on.
  process.env.SPY_PARENT_PID = String(process.pid);
  process.env.JPY_PARENT_PID = String(process.pid);
  root = makeCondaRoot();
  createEnv(root, 'work');
  createEnvReportingVersion(root, 'future', '3.0.1');
  createEnvWithFakeKernel(root, 'flaky', PORT_TAKEN_ONCE);
  runtime = mkdtempSync('/tmp/sksd-run-');
  chmodSync(runtime, 0o711);
  alice = await createAccount({ tag: 'a' });
  bob = await createAccount({ tag: 'b' });
  carol = await createAccount({ tag: 'c' });
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  // The requirement itself: whatever a test did, no process of a test kernel outlives it.
  const left = [alice, bob, carol].flatMap((u) => processesOfUid(u.uid));
  await Promise.all(managers.splice(0).map((m) => m.shutdownAll()));
  expect(left).toEqual([]);
});

afterAll(() => {
  delete process.env.SPY_PARENT_PID;
  delete process.env.JPY_PARENT_PID;
  removeAllTestUsers();
  removeCondaRoots();
  rmSync(runtime, { recursive: true, force: true });
});

describe('kernel lifecycle', () => {
  it('interrupts running code with SIGINT to the python; the kernel keeps its state', async () => {
    const manager = makeManager();
    const started = await manager.start({
      user: alice,
      env: 'work',
      address: ADDRESS,
      spyder: '5.4.3',
    });
    expect(started.spyderKernels).toBe('2.4.2');
    const client = await session(started.connection);
    const environ = await client.execute('import os; print(sorted(os.environ))');
    expect(environ.stdout).not.toMatch(/SPY_PARENT_PID|JPY_PARENT_PID/);
    expect((await client.execute('x = 42')).status).toBe('ok');

    const marker = join(alice.home, 'spinning');
    const looping = client.execute(spinCode(marker));
    const busy = await eventually(
      () => manager.list(alice)[0],
      (k) => k?.state === 'busy',
    );
    expect(busy?.state).toBe('busy');
    await eventually(() => existsSync(marker), Boolean);
    const { pid } = await manager.interrupt(alice, started.id);
    expect(pid).toBe(busy?.kernelPid);
    expect(pid).not.toBe(busy?.pid);

    expect(await looping).toMatchObject({ status: 'error', ename: 'KeyboardInterrupt' });
    expect((await client.executeAfterInterrupt('print(x)')).stdout.trim()).toBe('42');
    // conda, bash and python all still run: only the python got the signal.
    expect(await liveMembers(busy?.pid as number)).toHaveLength(3);
    await eventually(
      () => manager.list(alice)[0]?.state,
      (s) => s === 'idle',
    );
    await manager.shutdown(alice, started.id);
  });

  it('restarts on the same ports and key; a connected client carries on, variables gone', async () => {
    const manager = makeManager();
    const started = await manager.start({ user: alice, env: 'work', address: ADDRESS });
    const [before] = manager.list(alice);
    const file = join(runtime, 'kernels', alice.name, `kernel-${started.id}.json`);
    const fileBefore = readFileSync(file, 'utf8');
    const client = await session(started.connection);
    await client.execute('y = 7');

    const restarted = await manager.restart(alice, started.id);
    expect(restarted).toEqual({ id: started.id, restarts: 1, connection: started.connection });
    const [after] = manager.list(alice);
    expect(after).toMatchObject({ id: started.id, state: 'idle', restarts: 1 });
    expect(after?.pid).not.toBe(before?.pid);
    expect(await liveMembers(before?.pid as number)).toEqual([]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(fileBefore));

    // The same client, never reconnected by hand: ZeroMQ finds the new kernel on the same ports.
    const probe = await client.execute("print('y' in globals())", 60);
    expect(probe).toMatchObject({ status: 'ok', stdout: 'False\n' });
    await manager.shutdown(alice, started.id);
  });

  it('notices a crash at once: exit code, log tail, files gone, listed as dead', async () => {
    const manager = makeManager();
    const started = await manager.start({ user: bob, env: 'work', address: ADDRESS });
    const pgid = manager.list(bob)[0]?.pid as number;
    const died = deathOf(manager, started.id);
    const client = await session(started.connection);

    // ipykernel captures fd 1 and 2 for IOPub; the log is the descriptor it kept of the original.
    const crash = client.execute(CRASH, 5);
    const event = await died;
    expect(event.exit).toMatchObject({ reason: 'exited', exitCode: 3, signal: null });
    expect(event.exit?.logTail.join('\n')).toContain('going down');
    expect(await liveMembers(pgid)).toEqual([]);
    expect(existsSync(join(runtime, 'kernels', bob.name, `kernel-${started.id}.json`))).toBe(false);
    expect(manager.list(bob)).toEqual([expect.objectContaining({ id: started.id, state: 'dead' })]);
    await expectCode(manager.interrupt(bob, started.id), 'unknown_kernel');
    await client.close();
    await crash.catch(() => undefined);
  });

  it('starts again on fresh ports when a port was taken before the kernel bound it', async () => {
    const manager = makeManager();
    const started = await manager
      .start({ user: bob, env: 'flaky', address: ADDRESS })
      .catch((e) => {
        console.log('TAIL', e.data);
        throw e;
      });
    expect(existsSync(join(bob.home, '.port-taken-once'))).toBe(true);
    expect(manager.list(bob).map((k) => k.id)).toEqual([started.id]);
    expect(readdirSync(join(runtime, 'kernels', bob.name))).toHaveLength(2);
    await manager.shutdown(bob, started.id);
  });

  it('refuses the next start per user and in total with limit_reached', async () => {
    const manager = makeManager({ perUser: 1, total: 2 });
    const [a, b] = await Promise.all([
      manager.start({ user: alice, env: 'work', address: ADDRESS }),
      manager.start({ user: bob, env: 'work', address: ADDRESS }),
    ]);
    const perUser = await expectCode(
      manager.start({ user: alice, env: 'work', address: ADDRESS }),
      'limit_reached',
    );
    expect(perUser.data).toEqual({ scope: 'user', limit: 1 });
    const total = await expectCode(
      manager.start({ user: carol, env: 'work', address: ADDRESS }),
      'limit_reached',
    );
    expect(total.data).toEqual({ scope: 'total', limit: 2 });
    await Promise.all([manager.shutdown(alice, a.id), manager.shutdown(bob, b.id)]);
  });

  it('culls an idle kernel once its last client left, never a connected one', async () => {
    const manager = makeManager({ idleTimeoutMs: 1500 });
    const started = await manager.start({ user: carol, env: 'work', address: ADDRESS });
    const died = deathOf(manager, started.id);
    const client = await session(started.connection);
    await sleep(3500);
    expect(manager.list(carol)[0]?.state).toBe('idle');

    await client.close();
    const left = Date.now();
    const event = await died;
    expect(event.exit?.reason).toBe('culled');
    expect(Date.now() - left).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - left).toBeLessThan(6000);
  });

  it('never culls a busy kernel, even with cullConnected', async () => {
    const manager = makeManager({ idleTimeoutMs: 1500, cullConnected: true });
    const started = await manager.start({ user: carol, env: 'work', address: ADDRESS });
    const died = deathOf(manager, started.id);
    const client = await session(started.connection);

    // Culled while busy, the kernel would never print: the reply is the proof.
    expect((await client.execute('import time; time.sleep(4); print("done")')).stdout).toBe(
      'done\n',
    );
    expect((await died).exit?.reason).toBe('culled');
  });

  it('refuses an env whose spyder-kernels series the client’s Spyder cannot use', async () => {
    const manager = makeManager();
    const future = await expectCode(
      manager.start({ user: alice, env: 'future', address: ADDRESS, spyder: '5.4.3' }),
      'spyder_incompatible',
    );
    expect(future.data).toMatchObject({ needed: '2.4', spyderKernels: '3.0.1', env: 'future' });
    expect(future.message).toContain('2.4');
    const old = await expectCode(
      manager.start({ user: alice, env: 'work', address: ADDRESS, spyder: '6.0.2' }),
      'spyder_incompatible',
    );
    expect(old.data).toMatchObject({ needed: '3.0', spec: 'spyder-kernels>=3.0,<3.1' });
    expect(manager.list(alice)).toEqual([]);
  });
});

describe('kernels across daemon restarts', () => {
  it('keep: the next manager adopts running kernels with their state and connection', async () => {
    const stateFile = join(runtime, 'keep-state.json');
    const first = makeManager({ onDaemonStop: 'keep', stateFile });
    const started = await first.start({ user: alice, env: 'work', address: ADDRESS });
    const client = await session(started.connection);
    await client.execute('z = 99');
    await first.close();

    const second = makeManager({ onDaemonStop: 'keep', stateFile });
    await second.recover();
    const [adopted] = second.list(alice);
    expect(adopted).toMatchObject({ id: started.id, connection: started.connection });
    expect(['running', 'idle']).toContain(adopted?.state);
    expect((await client.execute('print(z)')).stdout).toBe('99\n');
    expect((await second.interrupt(alice, started.id)).pid).toBe(adopted?.kernelPid);

    // It dies while adopted: noticed by polling, exit code unknowable for a non-child.
    const died = deathOf(second, started.id);
    signalGroup(adopted?.pid as number, 'SIGKILL');
    expect((await died).exit).toMatchObject({ reason: 'exited', exitCode: null });
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).kernels).toEqual([]);
  });

  it('keep: a kernel that died meanwhile is listed as lost; orphans and strays go', async () => {
    const stateFile = join(runtime, 'lost-state.json');
    const first = makeManager({ onDaemonStop: 'keep', stateFile });
    const [lost, orphan] = await Promise.all([
      first.start({ user: bob, env: 'work', address: ADDRESS }),
      first.start({ user: bob, env: 'work', address: ADDRESS }),
    ]);
    const pids = Object.fromEntries(first.list(bob).map((k) => [k.id, k.pid as number]));
    await first.close();
    signalGroup(pids[lost.id] as number, 'SIGKILL');
    // The orphan is no longer in the state file: as if the file had been lost.
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    state.kernels = state.kernels.filter((k: { id: string }) => k.id !== orphan.id);
    writeFileSync(stateFile, JSON.stringify(state));

    const second = makeManager({ onDaemonStop: 'keep', stateFile });
    await second.recover();
    expect(second.list(bob)).toEqual([
      expect.objectContaining({
        id: lost.id,
        state: 'dead',
        exit: expect.objectContaining({ reason: 'lost' }),
      }),
    ]);
    expect(await liveMembers(pids[orphan.id] as number)).toEqual([]);
    expect(processesOfUid(bob.uid)).toEqual([]);
    expect(
      await eventually(
        () => readdirOrEmpty(join(runtime, 'kernels', bob.name)),
        (f) => f.length === 0,
      ),
    ).toEqual([]);
  });

  it('stop: the next manager stops what a previous one left running', async () => {
    const stateFile = join(runtime, 'stop-state.json');
    const keeper = makeManager({ onDaemonStop: 'keep', stateFile });
    const started = await keeper.start({ user: carol, env: 'work', address: ADDRESS });
    const pgid = keeper.list(carol)[0]?.pid as number;
    await keeper.close();
    expect(await liveMembers(pgid)).toHaveLength(3);

    const stopper = makeManager({ onDaemonStop: 'stop', stateFile });
    await stopper.recover();
    expect(stopper.list(carol)).toEqual([]);
    expect(await liveMembers(pgid)).toEqual([]);
    expect(existsSync(join(runtime, 'kernels', carol.name, `kernel-${started.id}.json`))).toBe(
      false,
    );
  });
});

function readdirOrEmpty(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}
