/**
 * The conda stand-in's administrative commands follow the real CLI where sksd depends on it:
 * argparse's option rules (`--` ends options, unknown options are usage errors), the --json
 * shapes of create/install/list/remove/config (NUL-terminated progress records, then one
 * document), conda's error objects, and a rollback when a transaction is interrupted.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCondaRoot, removeCondaRoots, type CondaRoot } from '../helpers/conda.js';

let conda: CondaRoot;
let env: Record<string, string>;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(conda.conda, args, { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** The document after the last progress record. */
const documentOf = (stdout: string): unknown => JSON.parse(stdout.split('\0').at(-1) ?? '');

beforeAll(() => {
  conda = makeCondaRoot();
  env = { PATH: '/usr/bin:/bin', HOME: join(conda.root, 'home') };
});

afterAll(() => removeCondaRoots());

describe('conda stand-in: administration', () => {
  it('creates with progress records, then the actions document; lists dist fields', async () => {
    const prefix = join(conda.root, 'envs', 'a');
    const created = await run([
      'create',
      '--yes',
      '--json',
      `--prefix=${prefix}`,
      '--',
      'sksd-demo=1.0',
    ]);
    expect(created.code).toBe(0);
    const records = created.stdout
      .split('\0')
      .slice(0, -1)
      .map((r) => JSON.parse(r) as object);
    expect(records.at(-1)).toEqual({
      fetch: 'sksd-demo-1.0        | 12 KB     | ',
      finished: true,
      maxval: 1,
      progress: 1,
    });
    expect(documentOf(created.stdout)).toMatchObject({
      success: true,
      prefix,
      actions: {
        PREFIX: prefix,
        LINK: [{ name: 'sksd-demo', version: '1.0', channel: 'defaults' }],
      },
    });

    const listed = JSON.parse((await run(['list', '--json', '-p', prefix])).stdout) as object[];
    expect(listed).toEqual([
      {
        base_url: 'https://conda.anaconda.org/defaults',
        build_number: 0,
        build_string: '0',
        channel: 'defaults',
        dist_name: 'sksd-demo-1.0-0',
        name: 'sksd-demo',
        platform: 'linux-64',
        version: '1.0',
      },
    ]);
    const again = await run([
      'install',
      '--yes',
      '--json',
      `--prefix=${prefix}`,
      '--',
      'sksd-demo',
    ]);
    expect(documentOf(again.stdout)).toEqual({
      success: true,
      message: 'All requested packages already installed.',
    });
  });

  it('ends options at --, refuses unknown options, and prints conda’s error objects', async () => {
    const prefix = join(conda.root, 'envs', 'a');
    const option = await run(['install', '--yes', '--json', `--prefix=${prefix}`, '--force']);
    expect(option.code).toBe(2);
    const spec = await run(['install', '--yes', '--json', `--prefix=${prefix}`, '--', '--force']);
    expect(documentOf(spec.stdout)).toMatchObject({ exception_name: 'InvalidMatchSpec' });

    const missing = await run(['install', '--json', `--prefix=${prefix}`, '--', 'nope']);
    expect(missing.code).toBe(1);
    expect(documentOf(missing.stdout)).toMatchObject({
      exception_name: 'PackagesNotFoundError',
      exception_type: "<class 'conda.exceptions.PackagesNotFoundError'>",
    });
    const gone = await run(['list', '--json', '-p', join(conda.root, 'nowhere')]);
    expect(documentOf(gone.stdout)).toMatchObject({
      exception_name: 'EnvironmentLocationNotFound',
    });
  });

  it('edits ~/.condarc like conda config, and removes an env with --all', async () => {
    const added = await run(['config', '--json', '--add', 'channels', 'conda-forge']);
    expect(JSON.parse(added.stdout)).toEqual({
      success: true,
      rc_path: join(env['HOME'] as string, '.condarc'),
      warnings: [],
      get: {},
    });
    const got = await run(['config', '--json', '--get', 'channels']);
    expect(JSON.parse(got.stdout)).toMatchObject({
      get: { channels: ['conda-forge', 'defaults'] },
    });
    const moved = await run(['config', '--json', '--add', 'channels', 'defaults']);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      warnings: ["Warning: 'defaults' already in 'channels' list, moving to the top"],
    });
    const missing = await run(['config', '--json', '--remove', 'channels', 'nope']);
    expect(JSON.parse(missing.stdout)).toMatchObject({ exception_name: 'CondaKeyError' });

    const prefix = join(conda.root, 'envs', 'a');
    const removed = await run(['remove', '--yes', '--json', '--all', `--prefix=${prefix}`]);
    expect(documentOf(removed.stdout)).toMatchObject({ success: true, actions: { UNLINK: [{}] } });
    expect(existsSync(prefix)).toBe(false);
  });
});
