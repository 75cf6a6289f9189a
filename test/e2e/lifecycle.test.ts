/**
 * Kernel lifecycle end to end with the built daemon as its own process: interrupt, restart and a
 * crash notification over TLS, and both kernels.onDaemonStop policies across SIGTERM and SIGKILL
 * of the daemon. After every test no process of a test user is left.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { liveMembers, signalGroup } from '../../src/process/group.js';
import { connect, RpcError, type RpcClient } from '../../src/rpc/client.js';
import { Methods, Notifications, type KernelExit } from '../../src/rpc/methods.js';
import { createEnv, makeCondaRoot, removeCondaRoots, type CondaRoot } from '../helpers/conda.js';
import { removeDaemonDirs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { processesOfUid } from '../helpers/system.js';
import { createUser, removeAllTestUsers, type TestUser } from '../helpers/users.js';
import { JupyterSession } from '../kernels/jupyter-session.js';
import { crashCode, eventually, spinCode } from '../kernels/support.js';

const CRASH = crashCode('segfault-ish');

let conda: CondaRoot;
let alice: TestUser;
let bob: TestUser;
const daemons: TestDaemon[] = [];
const clients: RpcClient[] = [];
const sessions: JupyterSession[] = [];

async function daemonWith(kernels: Record<string, unknown>, reuse?: TestDaemon) {
  const config = { conda: { executable: conda.conda }, kernels: { shutdownGrace: 1, ...kernels } };
  const daemon = await startDaemon(config, {}, reuse?.dir);
  daemons.push(daemon);
  return daemon;
}

async function loggedIn(daemon: TestDaemon, user: TestUser): Promise<RpcClient> {
  const client = await connect({
    host: '127.0.0.1',
    port: daemon.port,
    pinnedFingerprint: daemon.fingerprint,
  });
  clients.push(client);
  await client.call(Methods.login, { user: user.name, password: user.password });
  return client;
}

async function session(connection: Parameters<typeof JupyterSession.open>[0]) {
  const opened = await JupyterSession.open(connection);
  sessions.push(opened);
  return opened;
}

async function killDaemon(daemon: TestDaemon): Promise<void> {
  const exited = new Promise((resolve) => daemon.process.once('exit', resolve));
  daemon.process.kill('SIGKILL');
  await exited;
}

function kernelFiles(daemon: TestDaemon, user: TestUser): string[] {
  const dir = join(daemon.runtimeDir, 'kernels', user.name);
  return existsSync(dir) ? readdirSync(dir) : [];
}

function stateFileKernels(daemon: TestDaemon): unknown[] {
  const file = join(daemon.dir, 'state', 'kernels.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { kernels: unknown[] }).kernels;
}

beforeAll(() => {
  alice = createUser({ tag: 'a' });
  bob = createUser({ tag: 'b' });
  conda = makeCondaRoot();
  createEnv(conda, 'proj');
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
  const codes = await Promise.all(daemons.splice(0).map((d) => d.stop()));
  const left = [alice, bob].flatMap((u) => processesOfUid(u.uid));
  // A failed keep-policy test would leave its kernels to the next test: end them either way.
  for (const pid of left) process.kill(pid, 'SIGKILL');
  expect(codes.every((code) => code === 0 || code === null)).toBe(true);
  expect(left).toEqual([]);
});

afterAll(() => {
  removeAllTestUsers();
  removeCondaRoots();
  removeDaemonDirs();
});

describe('kernel lifecycle over the wire', () => {
  it('interrupts, restarts, and notifies the starter of a crash', async () => {
    const daemon = await daemonWith({});
    const owner = await loggedIn(daemon, alice);
    const other = await loggedIn(daemon, alice);
    const heard: { owner: KernelExit[]; other: KernelExit[] } = { owner: [], other: [] };
    owner.onNotification(Notifications.kernelDead, (n) => heard.owner.push(n.exit));
    other.onNotification(Notifications.kernelDead, (n) => heard.other.push(n.exit));

    const started = await owner.call(Methods.kernelsStart, { env: 'proj', spyder: '5.4.3' });
    expect(started.spyderKernels).toBe('2.4.2');
    const client = await session(started.connection);
    await client.execute('x = 1');
    const marker = join(alice.home, 'spinning');
    const looping = client.execute(spinCode(marker));
    const list = () => other.call(Methods.kernelsList).then((r) => r.kernels[0]);
    expect((await eventually(list, (k) => k?.state === 'busy'))?.state).toBe('busy');
    await eventually(() => existsSync(marker), Boolean);
    const { pid } = await other.call(Methods.kernelsInterrupt, { id: started.id });
    expect(await looping).toMatchObject({ status: 'error', ename: 'KeyboardInterrupt' });
    expect((await client.executeAfterInterrupt('print(x)')).stdout).toBe('1\n');
    expect((await list())?.kernelPid).toBe(pid);

    const restarted = await other.call(Methods.kernelsRestart, { id: started.id });
    expect(restarted).toEqual({ id: started.id, restarts: 1, connection: started.connection });
    expect((await client.execute("print('x' in globals())", 60)).stdout).toBe('False\n');

    void client.execute(CRASH, 5).catch(() => undefined);
    const exit = await eventually(
      () => heard.owner[0],
      (e) => e !== undefined,
    );
    expect(exit).toMatchObject({ reason: 'exited', exitCode: 3 });
    expect(exit?.logTail.join('\n')).toContain('segfault-ish');
    expect(heard.other).toEqual([]);
    expect((await list())?.state).toBe('dead');
    expect(kernelFiles(daemon, alice)).toEqual([]);
    const ack = await owner.call(Methods.kernelsShutdown, { id: started.id });
    expect(ack.outcome).toBe('already_dead');
    expect((await owner.call(Methods.kernelsList)).kernels).toEqual([]);
  });

  it('refuses a Spyder whose spyder-kernels series the env lacks, naming the series', async () => {
    const daemon = await daemonWith({});
    const client = await loggedIn(daemon, bob);
    const error = await client
      .call(Methods.kernelsStart, { env: 'proj', spyder: '6.0.1' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).errorName).toBe('spyder_incompatible');
    expect((error as RpcError).data).toMatchObject({ needed: '3.0', spyderKernels: '2.4.2' });
    expect((error as RpcError).message).toContain('3.0');
  });
});

describe('kernels when the daemon stops', () => {
  it('stop: SIGTERM ends them; after kill -9 the next daemon stops what was left', async () => {
    const first = await daemonWith({ onDaemonStop: 'stop' });
    const client = await loggedIn(first, bob);
    const started = await client.call(Methods.kernelsStart, { env: 'proj' });
    const pgid = (await client.call(Methods.kernelsList)).kernels[0]?.pid as number;
    await killDaemon(first);
    expect(await liveMembers(pgid)).toHaveLength(3);
    expect(kernelFiles(first, bob)).toHaveLength(2);
    expect(stateFileKernels(first)).toHaveLength(1);

    const second = await daemonWith({ onDaemonStop: 'stop' }, first);
    expect(await liveMembers(pgid)).toEqual([]);
    expect(kernelFiles(second, bob)).toEqual([]);
    const again = await loggedIn(second, bob);
    expect((await again.call(Methods.kernelsList)).kernels).toEqual([]);
    expect(started.id).toBeTruthy();

    const next = await again.call(Methods.kernelsStart, { env: 'proj' });
    const nextPgid = (await again.call(Methods.kernelsList)).kernels[0]?.pid as number;
    expect(await second.stop()).toBe(0);
    expect(await liveMembers(nextPgid)).toEqual([]);
    expect(kernelFiles(second, bob)).toEqual([]);
    expect(stateFileKernels(second)).toEqual([]);
    expect(next.id).toBeTruthy();
  });

  it('keep: kernels outlive a stop and a kill -9; the next daemon adopts or reports them', async () => {
    const first = await daemonWith({ onDaemonStop: 'keep' });
    const client = await loggedIn(first, alice);
    const kept = await client.call(Methods.kernelsStart, { env: 'proj' });
    const jupyter = await session(kept.connection);
    await jupyter.execute('x = 5');
    expect(await first.stop()).toBe(0);

    const second = await daemonWith({ onDaemonStop: 'keep' }, first);
    const again = await loggedIn(second, alice);
    const [adopted] = (await again.call(Methods.kernelsList)).kernels;
    expect(adopted).toMatchObject({ id: kept.id, connection: kept.connection });
    expect((await jupyter.execute('print(x)')).stdout).toBe('5\n');

    const doomed = await again.call(Methods.kernelsStart, { env: 'proj' });
    const doomedPgid = (await again.call(Methods.kernelsList)).kernels[1]?.pid as number;
    await killDaemon(second);
    signalGroup(doomedPgid, 'SIGKILL');
    await eventually(
      () => liveMembers(doomedPgid),
      (m) => m.length === 0,
    );

    const third = await daemonWith({ onDaemonStop: 'keep' }, first);
    const last = await loggedIn(third, alice);
    const kernels = (await last.call(Methods.kernelsList)).kernels;
    expect(kernels.map((k) => [k.id, k.state === 'dead' ? k.exit?.reason : 'alive'])).toEqual([
      [kept.id, 'alive'],
      [doomed.id, 'lost'],
    ]);
    expect(kernelFiles(third, alice).sort()).toEqual([
      `kernel-${kept.id}.json`,
      `kernel-${kept.id}.log`,
    ]);
    await last.call(Methods.kernelsInterrupt, { id: kept.id });
    await last.call(Methods.kernelsShutdown, { id: kept.id });
    expect(kernelFiles(third, alice)).toEqual([]);
  });
});
