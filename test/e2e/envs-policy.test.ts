/**
 * The admin's policy and hostile input, end to end: who may create, shared environments changed
 * only by admins and run as the root prefix's owner, channel and package lists, the per-user
 * limit, names/specs/channels refused before any process starts, one user kept from another's
 * environment, channels edited through conda config, and the audit trail.
 */
import { appendFileSync, chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Methods } from '../../src/rpc/methods.js';
import { makeCondaRoot, type CondaRoot } from '../helpers/conda.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { loggedIn, rpcError, tearDown } from '../helpers/e2e.js';
import { createGroup, createUser, type TestUser } from '../helpers/users.js';

describe('environment administration under the admin’s policy', () => {
  let daemon: TestDaemon;
  let conda: CondaRoot;
  let alice: TestUser; // may create
  let bob: TestUser; // may create
  let carol: TestUser; // admin of the shared environments, may not create her own
  let dave: TestUser; // may do neither
  let owner: TestUser; // owns the conda installation

  beforeAll(async () => {
    const creators = createGroup('c');
    alice = createUser({ tag: 'pa', groups: [creators] });
    bob = createUser({ tag: 'pb', groups: [creators] });
    carol = createUser({ tag: 'pc' });
    dave = createUser({ tag: 'pd' });
    owner = createUser({ tag: 'po' });
    conda = makeCondaRoot({ owner: owner.name });
    daemon = await startDaemon({
      conda: { executable: conda.conda },
      policy: {
        createGroups: [creators],
        adminUsers: [carol.name],
        allowChannels: ['defaults', 'conda-forge', 'sksd-test'],
        denyPackages: ['sksd-huge', 'evil-*'],
        maxEnvsPerUser: 2,
      },
    });
  });

  afterAll(async () => {
    expect(await tearDown(daemon)).toBe(0);
  });

  it('refuses by policy: who may create, denied packages, channels off the list, the limit', async () => {
    const d = await loggedIn(daemon, dave);
    const notCreator = await rpcError(d.call(Methods.envsCreate, { name: 'mine' }));
    expect(notCreator.errorName).toBe('forbidden');
    expect(notCreator.data).toMatchObject({ reason: 'policy', action: 'envs.create' });

    const a = await loggedIn(daemon, alice);
    await a.call(Methods.envsCreate, { name: 'a1' });
    const install = (params: { specs: string[]; channels?: string[] }) =>
      rpcError(a.call(Methods.packagesInstall, { env: 'a1', ...params }));
    expect((await install({ specs: ['evil-miner'] })).data).toMatchObject({
      name: 'package_not_allowed',
      package: 'evil-miner',
    });
    expect((await install({ specs: ['sksd-huge'] })).errorName).toBe('package_not_allowed');
    expect((await install({ specs: ['sksd-demo'], channels: ['pkgs/main'] })).errorName).toBe(
      'channel_not_allowed',
    );
    expect((await install({ specs: ['pkgs/main::sksd-demo'] })).errorName).toBe(
      'channel_not_allowed',
    );
    expect((await rpcError(a.call(Methods.channelsAdd, { channel: 'pkgs/main' }))).errorName).toBe(
      'channel_not_allowed',
    );

    // Allowed channels only: the configured ones are checked and passed with --override-channels.
    await a.call(Methods.packagesInstall, { env: 'a1', specs: ['sksd-dep'] });
    writeFileSync(`${alice.home}/.condarc`, 'channels:\n  - pkgs/main\n');
    expect((await install({ specs: ['sksd-demo'] })).data).toMatchObject({ channel: 'pkgs/main' });
    await a.call(Methods.packagesInstall, {
      env: 'a1',
      specs: ['sksd-demo'],
      channels: ['conda-forge'],
    });

    // The .condarc channel is refused for a create too, unless the request names its channels.
    expect((await rpcError(a.call(Methods.envsCreate, { name: 'a2' }))).errorName).toBe(
      'channel_not_allowed',
    );
    await a.call(Methods.envsCreate, { name: 'a2', channels: ['conda-forge'] });
    const limit = await rpcError(a.call(Methods.envsCreate, { name: 'a3' }));
    expect(limit.data).toMatchObject({ name: 'env_limit_reached', limit: 2 });
    expect((await rpcError(a.call(Methods.envsCreate, { name: 'a1' }))).errorName).toBe(
      'env_exists',
    );
    await Promise.all([a.close(), d.close()]);
  });

  it('refuses hostile names, specs and channels before any process starts, and keeps serving', async () => {
    const b = await loggedIn(daemon, bob);
    const names = [
      '../x',
      '-n',
      '--prefix=/etc',
      'a b',
      'x;rm -rf ~',
      'a\nb',
      'base',
      '.hidden',
      'x/y',
      'a:b',
      'a#b',
    ];
    for (const name of names) {
      expect((await rpcError(b.call(Methods.envsCreate, { name }))).errorName).toBe(
        'invalid_env_name',
      );
    }
    const specs = [
      '--force',
      '-c',
      '--prefix=/',
      'numpy; rm -rf /',
      '$(id)',
      '`id`',
      'numpy\n',
      '/etc/passwd',
      'https://evil.example/pkg.tar.bz2',
      'numpy >=1 extra words',
      'numpy[channel=evil]',
      '',
    ];
    for (const spec of specs) {
      const error = await rpcError(b.call(Methods.envsCreate, { name: 'ok', packages: [spec] }));
      expect(['invalid_spec', 'invalid_params']).toContain(error.errorName);
    }
    const channels = [
      '-c',
      'http://plain.example/c',
      'https://user:pw@host.example/c',
      'https://x.example/t/tok/c',
      'file:///../etc',
      'ftp://x',
      'a/../b',
      'https://x.example/c?q=1',
    ];
    for (const channel of channels) {
      expect((await rpcError(b.call(Methods.channelsAdd, { channel }))).errorName).toBe(
        'invalid_channel',
      );
    }
    const options = await rpcError(b.call(Methods.packagesRemove, { env: 'ok', names: ['--all'] }));
    expect(options.errorName).toBe('invalid_spec');

    expect((await b.call(Methods.info)).user).toBe(bob.name);
    const refused = daemon
      .logs()
      .split('\n')
      .filter((l) => l.includes('"audit":true') && l.includes(bob.name));
    expect(refused.length).toBeGreaterThan(20);
    expect(
      refused.every((l) => l.includes('"outcome":"refused"') && !l.includes('"exitCode"')),
    ).toBe(true);
    expect(daemon.logs()).not.toContain('pw@host');
    await b.close();
  });

  it("keeps one user from changing another's environment", async () => {
    const b = await loggedIn(daemon, bob);
    const prefix = `${alice.home}/.conda/envs/a1`;
    expect(
      (await rpcError(b.call(Methods.packagesInstall, { env: 'a1', specs: ['sksd-dep'] })))
        .errorName,
    ).toBe('env_not_found');
    expect((await rpcError(b.call(Methods.envsRemove, { name: prefix }))).errorName).toBe(
      'env_not_found',
    );

    // Even when bob can see it (a readable home, his environments.txt naming it): not his.
    chmodSync(alice.home, 0o755);
    execFileSync('chmod', ['-R', 'a+rX', `${alice.home}/.conda`]);
    mkdirSync(`${bob.home}/.conda`, { recursive: true });
    appendFileSync(`${bob.home}/.conda/environments.txt`, `${prefix}\n`);
    const notOwner = await rpcError(b.call(Methods.envsRemove, { name: prefix }));
    expect(notOwner.data).toMatchObject({ name: 'forbidden', reason: 'not_owner' });
    expect(
      (await rpcError(b.call(Methods.packagesRemove, { env: prefix, names: ['sksd-dep'] })))
        .errorName,
    ).toBe('forbidden');
    expect((await b.call(Methods.packagesList, { env: prefix })).packages.length).toBeGreaterThan(
      0,
    );
    await b.close();
  });

  it('lets only admins change shared environments, run as the owner of the root prefix', async () => {
    const c = await loggedIn(daemon, carol);
    expect((await rpcError(c.call(Methods.envsCreate, { name: 'own' }))).data).toMatchObject({
      reason: 'policy',
    });
    const team = await c.call(Methods.envsCreate, { name: 'team', shared: true });
    expect(team.env.prefix).toBe(`${conda.root}/envs/team`);
    expect(statSync(team.env.prefix).uid).toBe(owner.uid);
    await c.call(Methods.packagesInstall, { env: 'team', specs: ['sksd-demo=1.0'] });
    expect(statSync(`${team.env.prefix}/conda-meta/sksd-demo-1.0-0.json`).uid).toBe(owner.uid);
    const base = await rpcError(c.call(Methods.envsRemove, { name: 'base' }));
    expect(base.data).toMatchObject({ reason: 'base' });

    const b = await loggedIn(daemon, bob);
    const shared = await rpcError(
      b.call(Methods.packagesInstall, { env: 'team', specs: ['sksd-dep'] }),
    );
    expect(shared.data).toMatchObject({ name: 'forbidden', reason: 'shared_env' });
    expect(
      (await rpcError(b.call(Methods.envsCreate, { name: 'x', shared: true }))).errorName,
    ).toBe('forbidden');
    const names = (await b.call(Methods.packagesList, { env: 'team' })).packages.map((p) => p.name);
    expect(names).toContain('sksd-demo');
    await Promise.all([b.close(), c.close()]);
  });

  it("edits the user's own channels through conda config", async () => {
    const b = await loggedIn(daemon, bob);
    expect(await b.call(Methods.channelsList)).toEqual({ channels: [], effective: ['defaults'] });
    expect((await b.call(Methods.channelsAdd, { channel: 'conda-forge' })).channels).toEqual([
      'conda-forge',
      'defaults',
    ]);
    const at1 = await b.call(Methods.channelsAdd, { channel: 'sksd-test', position: 1 });
    expect(at1).toEqual({
      channels: ['conda-forge', 'sksd-test', 'defaults'],
      effective: ['conda-forge', 'sksd-test', 'defaults'],
    });
    const order = ['defaults', 'sksd-test', 'conda-forge'];
    expect((await b.call(Methods.channelsReorder, { channels: order })).channels).toEqual(order);
    const partial = await rpcError(b.call(Methods.channelsReorder, { channels: ['defaults'] }));
    expect(partial.errorName).toBe('invalid_params');
    expect((await b.call(Methods.channelsRemove, { channel: 'sksd-test' })).channels).toEqual([
      'defaults',
      'conda-forge',
    ]);
    expect(statSync(`${bob.home}/.condarc`).uid).toBe(bob.uid);
    await b.close();
  });

  it('writes an audit line per action: who, from where, what, outcome, conda exit status', () => {
    const lines = daemon
      .logs()
      .split('\n')
      .filter((l) => l.includes('"audit":true'));
    const installs = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['action'] === 'packages.install' && e['outcome'] === 'ok');
    expect(installs[0]).toMatchObject({
      user: alice.name,
      remote: '127.0.0.1',
      exitCode: 0,
      runAs: alice.name,
    });
    expect(installs.find((e) => e['user'] === carol.name)).toMatchObject({ runAs: owner.name });
    for (const user of [alice, bob, carol, dave])
      expect(daemon.logs()).not.toContain(user.password);
  });

  it('refuses every change when the admin turns administration off', async () => {
    await daemon.stop();
    daemon = await startDaemon({
      conda: { executable: conda.conda },
      policy: { manageEnvs: false },
    });
    const a = await loggedIn(daemon, alice);
    const off = await rpcError(a.call(Methods.packagesInstall, { env: 'a1', specs: ['sksd-dep'] }));
    expect(off.data).toMatchObject({ name: 'forbidden', reason: 'disabled' });
    expect((await a.call(Methods.packagesList, { env: 'a1' })).packages.length).toBeGreaterThan(0);
    await a.close();
  });
});
