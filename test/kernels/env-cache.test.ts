import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import type { ResolvedEnv } from '../../src/conda/envs.js';
import type { CondaExecutable } from '../../src/conda/locate.js';
import { EnvCache, TTL_MS } from '../../src/kernels/env-cache.js';

const prefix = mkdtempSync('/tmp/sksd-envcache-');
afterAll(() => rmSync(prefix, { recursive: true, force: true }));
mkdirSync(join(prefix, 'conda-meta'));
const history = join(prefix, 'conda-meta', 'history');
writeFileSync(history, '==> created <==\n');

const conda: CondaExecutable = { path: '/opt/conda/bin/conda', flavour: 'conda', source: 'config' };
const user = (uid: number) => ({ name: `u${uid}`, uid }) as UserAccount;
const env: ResolvedEnv = {
  name: 'proj',
  prefix,
  byPrefix: false,
  spyderKernels: { importable: true, version: '2.4.2' },
};

describe('the env resolution cache', () => {
  it('answers again from memory, per user, until the env history changes or TTL passes', async () => {
    let clock = 1_000_000;
    const cache = new EnvCache(() => clock);
    let calls = 0;
    const resolve = async () => {
      calls += 1;
      return env;
    };

    await cache.resolve(conda, user(1), 'proj', resolve);
    await cache.resolve(conda, user(1), 'proj', resolve);
    expect(calls).toBe(1);
    await cache.resolve(conda, user(2), 'proj', resolve);
    expect(calls).toBe(2);

    // conda appends to the history on every change.
    utimesSync(history, new Date(), new Date(Date.now() + 5000));
    await cache.resolve(conda, user(1), 'proj', resolve);
    expect(calls).toBe(3);

    clock += TTL_MS;
    await cache.resolve(conda, user(1), 'proj', resolve);
    expect(calls).toBe(4);
  });

  it('never caches a failure', async () => {
    const cache = new EnvCache();
    let calls = 0;
    const failing = async (): Promise<ResolvedEnv> => {
      calls += 1;
      throw new Error('env_not_found');
    };
    await expect(cache.resolve(conda, user(1), 'nope', failing)).rejects.toThrow();
    await expect(cache.resolve(conda, user(1), 'nope', failing)).rejects.toThrow();
    expect(calls).toBe(2);
  });
});
