/**
 * The main job end to end, with every part real: the built daemon as its own process, TLS, PAM
 * with real users, the conda stand-in, Debian's spyder-kernels, and jupyter_client running code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import { createEnv, makeCondaRoot, type CondaRoot } from '../helpers/conda.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connectTo, loggedIn, tearDown } from '../helpers/e2e.js';
import { executeInKernel } from '../helpers/jupyter.js';
import { createGroup, createUser, type TestUser } from '../helpers/users.js';
import { liveMembers } from '../../src/process/group.js';
import { gidOf } from '../helpers/system.js';

const REPORT = `
import grp, json, os, sys
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
  "prefix": sys.prefix, "home": os.environ.get("HOME"), "cwd": os.getcwd(),
  "marker": os.environ.get("SKSD_TEST_MARKER"), "umask": oct(os.umask(0o077))}))
`;

describe('the main job: a kernel for an authenticated user over TLS', () => {
  let daemon: TestDaemon;
  let conda: CondaRoot;
  let alice: TestUser;
  let bob: TestUser;
  let extraGroup: string;
  let envPrefix: string;

  beforeAll(async () => {
    extraGroup = createGroup('x');
    alice = createUser({ tag: 'a', groups: [extraGroup] });
    bob = createUser({ tag: 'b' });
    conda = makeCondaRoot();
    envPrefix = createEnv(conda, 'proj');
    daemon = await startDaemon({ conda: { executable: conda.conda } });
  });

  afterAll(async () => {
    expect(await tearDown(daemon)).toBe(0);
  });

  it('answers sksd.info without a login', async () => {
    const client = await connectTo(daemon);
    const info = await client.call(Methods.info);
    expect(info).toMatchObject({ protocol: 1, state: 'idle', user: null });
    expect(info.capabilities).toContain('kernels.start');
    expect(daemon.logs()).toMatch(/"msg":"conda found"/);
    await client.close();
    // Users on the host read the port and fingerprint from it: world-readable despite umask 077.
    expect(statSync(join(daemon.runtimeDir, 'sksd.json')).mode & 0o777).toBe(0o644);
  });

  it('lists the environments as the user sees them', async () => {
    const client = await loggedIn(daemon, alice);
    const { envs } = await client.call(Methods.envsList);
    const proj = envs.find((e) => e.name === 'proj');
    expect(proj).toEqual({
      name: 'proj',
      prefix: envPrefix,
      spyderKernels: { importable: true, version: '2.4.2' },
    });
    await client.close();
  });

  it('starts a kernel as the user, in the env, that a real Jupyter client can use', async () => {
    const client = await loggedIn(daemon, alice);
    const started = await client.call(Methods.kernelsStart, { env: 'proj' });
    expect(started.env).toBe('proj');
    expect(Object.keys(started.connection).sort()).toEqual(
      [
        'control_port',
        'hb_port',
        'iopub_port',
        'ip',
        'kernel_name',
        'key',
        'shell_port',
        'signature_scheme',
        'stdin_port',
        'transport',
      ].sort(),
    );
    expect(started.connection.ip).toBe('127.0.0.1');

    const run = await executeInKernel(started.connection, REPORT);
    expect(run.status).toBe('ok');
    const seen = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(seen['uid']).toBe(alice.uid);
    expect(seen['gid']).toBe(alice.gid);
    expect(seen['groups']).toEqual(expect.arrayContaining([alice.gid, gidOf(extraGroup)]));
    expect(seen['prefix']).toBe(envPrefix);
    expect(seen['home']).toBe(alice.home);
    expect(seen['cwd']).toBe(alice.home);
    expect(seen['marker']).toBeNull();
    expect(seen['umask']).toBe('0o77');

    const { kernels } = await client.call(Methods.kernelsList);
    expect(kernels.map((k) => k.id)).toEqual([started.id]);
    const pid = kernels[0]!.pid!;

    const result = await client.call(Methods.kernelsShutdown, { id: started.id });
    expect(['requested', 'terminated', 'killed']).toContain(result.outcome);
    expect(await liveMembers(pid)).toEqual([]);
    expect(connectionFiles(alice.name)).toEqual([]);
    await client.close();
  });

  it("keeps one user's kernels from another", async () => {
    const owner = await loggedIn(daemon, alice);
    const other = await loggedIn(daemon, bob);
    const started = await owner.call(Methods.kernelsStart, { env: 'proj' });

    expect((await other.call(Methods.kernelsList)).kernels).toEqual([]);
    const refused = await other.call(Methods.kernelsShutdown, { id: started.id }).catch((e) => e);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).errorName).toBe('unknown_kernel');

    await owner.call(Methods.kernelsShutdown, { id: started.id });
    await Promise.all([owner.close(), other.close()]);
  });

  it('refuses calls before login and unknown environments with coded errors', async () => {
    const client = await connectTo(daemon);
    const before = await client.call(Methods.kernelsList).catch((e) => e);
    expect((before as RpcError).errorName).toBe('not_logged_in');

    await client.call(Methods.login, { user: alice.name, password: alice.password });
    const missing = await client.call(Methods.kernelsStart, { env: 'nope' }).catch((e) => e);
    expect((missing as RpcError).errorName).toBe('env_not_found');
    const badCwd = await client
      .call(Methods.kernelsStart, { env: 'proj', cwd: '/root' })
      .catch((e) => e);
    expect((badCwd as RpcError).errorName).toBe('cwd_not_allowed');
    await client.close();
  });

  it('resumes a session with its token on a new connection, and logout ends it', async () => {
    const first = await connectTo(daemon);
    const { token } = await first.call(Methods.login, {
      user: alice.name,
      password: alice.password,
    });
    await first.close();

    const second = await connectTo(daemon);
    expect((await second.call(Methods.resume, { token })).user).toBe(alice.name);
    await second.call(Methods.logout);
    const after = await second.call(Methods.kernelsList).catch((e) => e);
    expect((after as RpcError).errorName).toBe('not_logged_in');
    const reused = await second.call(Methods.resume, { token }).catch((e) => e);
    expect((reused as RpcError).errorName).toBe('invalid_token');
    await second.close();
  });

  it('stops every kernel when the daemon stops, and removes its files', async () => {
    const client = await loggedIn(daemon, alice);
    const started = await client.call(Methods.kernelsStart, { env: 'proj' });
    const { kernels } = await client.call(Methods.kernelsList);
    const pid = kernels.find((k) => k.id === started.id)!.pid!;
    await client.close();

    expect(await daemon.stop()).toBe(0);
    expect(await liveMembers(pid)).toEqual([]);
    expect(connectionFiles(alice.name)).toEqual([]);
    expect(existsSync(join(daemon.runtimeDir, 'sksd.json'))).toBe(false);
    expect(existsSync(join(daemon.runtimeDir, 'kernels'))).toBe(false);
    daemon = await startDaemon({ conda: { executable: conda.conda } });
  });

  function connectionFiles(user: string): string[] {
    const dir = join(daemon.runtimeDir, 'kernels', user);
    return existsSync(dir) ? readdirSync(dir) : [];
  }
});
