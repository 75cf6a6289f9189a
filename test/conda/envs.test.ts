import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import type { CondaExecutable } from '../../src/conda/locate.js';
import { listEnvs, resolveEnv } from '../../src/conda/envs.js';
import { runAsUser } from '../../src/process/run-as-user.js';
import {
  createEnv,
  createEnvWithoutSpyderKernels,
  makeCondaRoot,
  removeCondaRoots,
  type CondaRoot,
} from '../helpers/conda.js';
import { createAccount, removeAllTestUsers } from '../helpers/users.js';

const logger = pino({ level: 'silent' });
let root: CondaRoot;
let conda: CondaExecutable;
let alice: UserAccount;
let bob: UserAccount;
let work: string;
let broken: string;
let bobs: string;

beforeAll(async () => {
  root = makeCondaRoot();
  conda = { path: root.conda, flavour: 'conda', source: 'config' };
  work = createEnv(root, 'work');
  broken = createEnvWithoutSpyderKernels(root, 'broken');
  alice = await createAccount({ tag: 'a' });
  bob = await createAccount({ tag: 'b' });

  const created = await runAsUser(bob, [root.conda, 'create', '-n', 'private', '-y'], {
    timeoutMs: 30_000,
    logger,
  });
  expect(created.exitCode, created.stderr).toBe(0);
  bobs = `${bob.home}/.conda/envs/private`;
});

afterAll(() => {
  removeAllTestUsers();
  removeCondaRoots();
});

describe('listEnvs', () => {
  it('lists the user’s environments with their spyder-kernels version, as the user', async () => {
    const spyder = { importable: true, version: '2.4.2' };
    expect(await listEnvs(conda, alice, { logger })).toEqual([
      { name: 'base', prefix: root.root, spyderKernels: spyder },
      { name: 'broken', prefix: broken, spyderKernels: { importable: false, version: null } },
      { name: 'work', prefix: work, spyderKernels: spyder },
    ]);
    const names = (await listEnvs(conda, bob, { logger, concurrency: 1 })).map((e) => e.name);
    expect(names).toEqual(['base', 'broken', 'work', 'private']);
  });

  it('reports conda failures with codes', async () => {
    const failing = (path: string): CondaExecutable => ({ ...conda, path });
    await expect(listEnvs(failing('/bin/false'), alice, { logger })).rejects.toMatchObject({
      errorName: 'conda_failed',
    });
    await expect(listEnvs(failing('/bin/echo'), alice, { logger })).rejects.toMatchObject({
      errorName: 'conda_failed',
    });
    await expect(listEnvs(failing('/nonexistent/conda'), alice, { logger })).rejects.toMatchObject({
      errorName: 'conda_unavailable',
    });
  });
});

describe('resolveEnv', () => {
  it('resolves a name or an absolute prefix', async () => {
    await expect(resolveEnv(conda, alice, 'work', { logger })).resolves.toEqual({
      name: 'work',
      prefix: work,
      byPrefix: false,
      spyderKernels: { importable: true, version: '2.4.2' },
    });
    await expect(resolveEnv(conda, alice, `${work}/`, { logger })).resolves.toMatchObject({
      prefix: work,
      byPrefix: true,
    });
    await expect(resolveEnv(conda, alice, 'base', { logger })).resolves.toMatchObject({
      prefix: root.root,
    });
  });

  it('refuses unknown and other users’ envs, and envs without spyder-kernels', async () => {
    for (const ref of ['nope', '/usr', bobs, 'private']) {
      await expect(resolveEnv(conda, alice, ref, { logger })).rejects.toMatchObject({
        errorName: 'env_not_found',
      });
    }
    const own = resolveEnv(conda, bob, 'private', { logger });
    await expect(own).resolves.toMatchObject({ prefix: bobs });
    await expect(resolveEnv(conda, alice, 'broken', { logger })).rejects.toMatchObject({
      errorName: 'spyder_kernels_missing',
    });
  });
});
