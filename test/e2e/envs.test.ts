/**
 * Environment administration end to end, every part real but conda (the stand-in): the built
 * daemon as its own process, TLS, PAM with real users, conda run as the user, a kernel in the new
 * environment and jupyter_client importing what was installed; cancellation midway with nothing
 * left running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import { OpsProgress, type OpsProgressParams } from '../../src/rpc/methods-admin.js';
import { makeCondaRoot, type CondaRoot } from '../helpers/conda.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { loggedIn, rpcError, tearDown } from '../helpers/e2e.js';
import { executeInKernel } from '../helpers/jupyter.js';
import { processesOfUid } from '../helpers/system.js';
import { createUser, type TestUser } from '../helpers/users.js';

describe('environment administration through sksd', () => {
  let daemon: TestDaemon;
  let conda: CondaRoot;
  let alice: TestUser;

  /** Resolves with the first progress event that satisfies `wanted`. */
  const progressWhere = (client: RpcClient, wanted: (p: OpsProgressParams) => boolean) =>
    new Promise<OpsProgressParams>((resolve) => {
      const off = client.onNotification(OpsProgress, (p) => {
        if (!wanted(p)) return;
        off();
        resolve(p);
      });
    });

  /** Waits (bounded) until the user has no process left; returns what is still running. */
  const settled = async (user: TestUser): Promise<number[]> => {
    for (let i = 0; i < 50 && processesOfUid(user.uid).length > 0; i++) await sleep(100);
    return processesOfUid(user.uid);
  };

  beforeAll(async () => {
    alice = createUser({ tag: 'ea' });
    conda = makeCondaRoot();
    daemon = await startDaemon({ conda: { executable: conda.conda }, policy: { cancelGrace: 5 } });
  });

  afterAll(async () => {
    expect(await tearDown(daemon)).toBe(0);
  });

  it('creates an env, installs a package, lists it, imports it in a kernel, removes the env', async () => {
    const client = await loggedIn(daemon, alice);
    const events: OpsProgressParams[] = [];
    client.onNotification(OpsProgress, (p) => events.push(p));

    const created = await client.call(Methods.envsCreate, {
      name: 'proj',
      packages: ['python=3.11'],
      op: 'create-proj',
    });
    expect(created.env).toEqual({ name: 'proj', prefix: `${alice.home}/.conda/envs/proj` });
    expect(created.link.map((p) => p.name)).toEqual(['python']);

    const installed = await client.call(Methods.packagesInstall, {
      env: 'proj',
      specs: ['sksd-demo>=2'],
    });
    expect(installed.link.map((p) => `${p.name}=${p.version}`).sort()).toEqual([
      'sksd-demo=2.0',
      'sksd-dep=1.0',
    ]);
    const phases = events.filter((e) => e.op === installed.op).map((e) => e.phase);
    expect(phases[0]).toBe('solving');
    expect(phases).toContain('downloading');
    expect(phases.at(-1)).toBe('linking');
    expect(events.find((e) => e.op === 'create-proj')?.phase).toBe('solving');

    const { packages } = await client.call(Methods.packagesList, { env: 'proj' });
    expect(packages).toContainEqual({
      name: 'sksd-demo',
      version: '2.0',
      build: '0',
      channel: 'defaults',
    });

    const kernel = await client.call(Methods.kernelsStart, { env: 'proj' });
    const code = 'import os, sys, sksd_demo; print(sksd_demo.__version__, sys.prefix, os.getuid())';
    const run = await executeInKernel(kernel.connection, code);
    expect(run.stdout.trim()).toBe(`2.0 ${created.env.prefix} ${alice.uid}`);

    // Removing an environment a kernel runs in is refused; after the shutdown it is not.
    expect((await rpcError(client.call(Methods.envsRemove, { name: 'proj' }))).errorName).toBe(
      'env_busy',
    );
    await client.call(Methods.kernelsShutdown, { id: kernel.id });
    const removed = await client.call(Methods.envsRemove, { name: 'proj' });
    expect(removed.unlink.map((p) => p.name).sort()).toEqual(['python', 'sksd-demo', 'sksd-dep']);
    const { envs } = await client.call(Methods.envsList);
    expect(envs.map((e) => e.name)).not.toContain('proj');
    await client.close();
  });

  it('cancels a slow download midway: conda stops, the env is unchanged, nothing runs on', async () => {
    const client = await loggedIn(daemon, alice);
    await client.call(Methods.envsCreate, { name: 'slow' });
    await client.call(Methods.envsCreate, { name: 'other' });

    const downloading = progressWhere(
      client,
      (p) => p.op === 'slow-op-1' && p.phase === 'downloading',
    );
    const install = client.call(Methods.packagesInstall, {
      env: 'slow',
      specs: ['sksd-slow'],
      op: 'slow-op-1',
    });
    install.catch(() => undefined);
    await downloading;

    // One change per environment; another environment is not held up.
    const busy = await rpcError(
      client.call(Methods.packagesInstall, { env: 'slow', specs: ['sksd-dep'] }),
    );
    expect(busy.errorName).toBe('env_busy');
    expect(busy.data).toMatchObject({ op: 'slow-op-1', method: 'packages.install' });
    await client.call(Methods.packagesInstall, { env: 'other', specs: ['sksd-dep'] });
    expect((await client.call(Methods.opsList)).ops).toMatchObject([
      { op: 'slow-op-1', phase: 'downloading' },
    ]);

    expect(await client.call(Methods.opsCancel, { op: 'slow-op-1' })).toEqual({
      op: 'slow-op-1',
      cancelling: true,
    });
    const cancelled = await rpcError(install);
    expect(cancelled.errorName).toBe('cancelled');
    expect(cancelled.data).toMatchObject({ op: 'slow-op-1', reason: 'client' });
    expect(await settled(alice)).toEqual([]);

    const { packages } = await client.call(Methods.packagesList, { env: 'slow' });
    expect(packages.map((p) => p.name)).not.toContain('sksd-slow');
    expect((await client.call(Methods.opsList)).ops).toEqual([]);
    await client.close();
  });

  it('cancels while a post-link script runs: conda rolls the transaction back', async () => {
    const client = await loggedIn(daemon, alice);
    const linking = progressWhere(client, (p) => p.op === 'slowlink-1' && p.phase === 'linking');
    const install = client.call(Methods.packagesInstall, {
      env: 'slow',
      specs: ['sksd-slowlink'],
      op: 'slowlink-1',
    });
    install.catch(() => undefined);
    await linking;
    await sleep(300); // into the post-link script, a child process of conda

    await client.call(Methods.opsCancel, { op: 'slowlink-1' });
    expect((await rpcError(install)).errorName).toBe('cancelled');
    expect(await settled(alice)).toEqual([]);
    const { packages } = await client.call(Methods.packagesList, { env: 'slow' });
    expect(packages.map((p) => p.name)).not.toContain('sksd-slowlink');
    await client.close();
  });

  it('cancels the changes of a connection that closes, and only its own', async () => {
    const watcher = await loggedIn(daemon, alice);
    const client = await loggedIn(daemon, alice);
    const downloading = progressWhere(client, (p) => p.phase === 'downloading');
    client
      .call(Methods.packagesInstall, { env: 'slow', specs: ['sksd-slow'] })
      .catch(() => undefined);
    await downloading;
    expect((await watcher.call(Methods.opsList)).ops).toHaveLength(1);

    await client.close();
    for (let i = 0; i < 100 && (await watcher.call(Methods.opsList)).ops.length > 0; i++)
      await sleep(100);
    expect((await watcher.call(Methods.opsList)).ops).toEqual([]);
    expect(await settled(alice)).toEqual([]);
    expect(daemon.logs()).toMatch(/"action":"packages.install".*"outcome":"cancelled"/);
    await watcher.close();
  });

  it('clones an env and ensures the spyder-kernels series a Spyder version needs', async () => {
    const client = await loggedIn(daemon, alice);
    await client.call(Methods.packagesInstall, { env: 'other', specs: ['sksd-demo=1.0'] });
    const cloned = await client.call(Methods.envsClone, { from: 'other', name: 'copy' });
    expect(cloned.link.map((p) => p.name).sort()).toEqual(['sksd-demo', 'sksd-dep']);

    const fits = await client.call(Methods.envsEnsureKernel, { env: 'copy', spyder: '5.4.3' });
    expect(fits).toMatchObject({ changed: false, spec: null, before: '2.4.2', op: null });
    const upgraded = await client.call(Methods.envsEnsureKernel, { env: 'copy', spyder: '6.0.1' });
    expect(upgraded).toMatchObject({
      changed: true,
      spec: 'spyder-kernels>=3.0,<3.1',
      before: '2.4.2',
      after: '3.0.5',
    });
    const unknown = await rpcError(
      client.call(Methods.envsEnsureKernel, { env: 'copy', spyder: '4.2.5' }),
    );
    expect(unknown.errorName).toBe('spyder_version_unknown');
    await client.close();
  });

  it('reports conda failures as coded errors with conda’s message', async () => {
    const client = await loggedIn(daemon, alice);
    const install = (specs: string[], channels?: string[]) =>
      rpcError(
        client.call(Methods.packagesInstall, {
          env: 'other',
          specs,
          ...(channels ? { channels } : {}),
        }),
      );

    const missing = await install(['no-such-package']);
    expect(missing.errorName).toBe('package_not_found');
    expect(missing.data).toMatchObject({ exception: 'PackagesNotFoundError', exitCode: 1 });
    expect(String(missing.data?.['message'])).toContain('no-such-package');
    expect((await install(['sksd-conflict'])).errorName).toBe('solver_conflict');
    expect((await install(['sksd-demo'], ['sksd-offline'])).errorName).toBe('channel_unreachable');
    expect((await install(['sksd-huge'])).errorName).toBe('disk_full');
    expect((await client.call(Methods.info)).state).toBe('idle');
    await client.close();
  });
});
