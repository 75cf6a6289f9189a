import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flavourOf, locateConda } from '../../src/conda/locate.js';

let dir: string;

function executable(path: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync('/tmp/sksd-locate-');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('locateConda', () => {
  it('takes the configured executable and refuses a configured one that fails', async () => {
    const conda = executable(join(dir, 'cfg/bin/conda'));
    await expect(locateConda({ configured: conda, env: {} })).resolves.toEqual({
      path: conda,
      flavour: 'conda',
      source: 'config',
    });
    const missing = locateConda({ configured: join(dir, 'nope/conda'), env: { CONDA_EXE: conda } });
    await expect(missing).rejects.toMatchObject({ errorName: 'conda_unavailable' });
    await expect(locateConda({ configured: 'conda', env: {} })).rejects.toMatchObject({
      errorName: 'conda_unavailable',
    });
  });

  it('then CONDA_EXE, then the common prefixes, then PATH', async () => {
    const fromEnv = executable(join(dir, 'env/condabin/conda'));
    const prefix = join(dir, 'opt/miniforge3');
    const micromamba = executable(join(prefix, 'bin/micromamba'));
    const onPath = executable(join(dir, 'path/mamba'));
    const none = [join(dir, 'opt/none')];

    const env = { CONDA_EXE: fromEnv, PATH: `relative:${join(dir, 'path')}` };
    const locate = (e: NodeJS.ProcessEnv, prefixes: string[]) =>
      locateConda({ configured: null, env: e, prefixes });
    await expect(locate(env, [prefix])).resolves.toMatchObject({
      path: fromEnv,
      source: 'CONDA_EXE',
    });
    await expect(locate({ PATH: env.PATH }, [...none, prefix])).resolves.toEqual({
      path: micromamba,
      flavour: 'micromamba',
      source: 'prefix',
    });
    await expect(locate({ PATH: env.PATH }, none)).resolves.toEqual({
      path: onPath,
      flavour: 'mamba',
      source: 'PATH',
    });
    await expect(locate({ PATH: 'relative' }, none)).resolves.toBeNull();
  });

  it('tells the flavours apart by name', () => {
    expect(flavourOf('/opt/conda/bin/conda')).toBe('conda');
    expect(flavourOf('/opt/conda/bin/mamba')).toBe('mamba');
    expect(flavourOf('/usr/local/bin/micromamba')).toBe('micromamba');
  });
});
