/**
 * `sksd env`, `sksd pkg`, `sksd channel` as a user runs them, without a terminal: progress as
 * plain lines on stderr, the result on stdout, Ctrl-C (SIGINT) cancelling the change in the
 * daemon, and conda's message shown with a coded error.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli.js';
import { makeCondaRoot } from '../helpers/conda.js';
import { CLI, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tearDown } from '../helpers/e2e.js';
import { createUser, type TestUser } from '../helpers/users.js';

describe('sksd env/pkg/channel commands', () => {
  let daemon: TestDaemon;
  let user: TestUser;
  let home: string;
  let env: Record<string, string>;

  const common = () => ['-H', `127.0.0.1:${daemon.port}`, '-u', user.name, '--accept-new'];

  const sksd = (args: string[]) => runCli([...args, ...common()], env);

  beforeAll(async () => {
    user = createUser({ tag: 'ec' });
    const conda = makeCondaRoot();
    daemon = await startDaemon({ conda: { executable: conda.conda }, policy: { cancelGrace: 5 } });
    home = mkdtempSync('/tmp/sksd-cli-home-');
    env = cliEnv(home, { SKSD_PASSWORD: user.password });
  });

  afterAll(async () => {
    await tearDown(daemon);
    rmSync(home, { recursive: true, force: true });
  });

  it('creates an env with packages, shows progress lines, and lists the packages', async () => {
    const created = await sksd(['env', 'create', 'demo', 'sksd-demo=1.0', '--json']);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      env: { name: 'demo' },
      link: [{ name: 'sksd-demo' }],
    });
    expect(created.stderr.split('\n')).toEqual(
      expect.arrayContaining(['solving', 'downloading sksd-demo-1.0', 'linking']),
    );
    expect(created.stderr).not.toContain('\r');

    const listed = await sksd(['pkg', 'list', 'demo']);
    expect(listed.stdout).toMatch(/^sksd-demo {2}1\.0 {2}0 {2}defaults$/m);
  });

  it('cancels a change on Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'pkg', 'install', 'demo', 'sksd-slow', ...common()],
      { env },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    for (let i = 0; i < 100 && !stderr.includes('downloading sksd-slow'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stderr).toContain('downloading sksd-slow');

    child.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(1);
    expect(stderr).toContain('cancelling');
    expect(stderr).toContain('[cancelled]');
    expect((await sksd(['pkg', 'list', 'demo'])).stdout).not.toContain('sksd-slow');
  });

  it('shows conda’s message with the coded error, and edits channels', async () => {
    const missing = await sksd(['pkg', 'install', 'demo', 'no-such-pkg']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('[package_not_found]');
    expect(missing.stderr).toContain('- no-such-pkg');

    const added = await sksd(['channel', 'add', 'conda-forge', '--json']);
    expect(JSON.parse(added.stdout)).toEqual({
      channels: ['conda-forge', 'defaults'],
      effective: ['conda-forge', 'defaults'],
    });
    const removed = await sksd(['env', 'remove', 'demo']);
    expect(removed.stdout).toContain('removed: demo');
  });
});
