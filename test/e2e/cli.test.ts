/**
 * The CLI as a user runs it: `sksd kernel start` writes a connection file that a real Jupyter
 * client opens; the session token and the pinned certificate are kept between commands.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionInfo } from '../../src/rpc/methods.js';
import { createEnv, makeCondaRoot } from '../helpers/conda.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tearDown } from '../helpers/e2e.js';
import { executeInKernel } from '../helpers/jupyter.js';
import { createUser, type TestUser } from '../helpers/users.js';

describe('sksd command line against a running daemon', () => {
  let daemon: TestDaemon;
  let user: TestUser;
  let home: string;

  /** Runs `sksd ARGS` as a client with its own config directory; never throws. */
  const sksd = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, cliEnv(home, env));

  beforeAll(async () => {
    user = createUser({ tag: 'c' });
    const conda = makeCondaRoot();
    createEnv(conda, 'analysis');
    daemon = await startDaemon({ conda: { executable: conda.conda } });
    home = mkdtempSync('/tmp/sksd-cli-home-');
  });

  afterAll(async () => {
    await tearDown(daemon);
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses an unknown certificate without a terminal, then pins it with --accept-new', async () => {
    const host = `127.0.0.1:${daemon.port}`;
    const refused = await sksd(['info', host]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(daemon.fingerprint);

    const accepted = await sksd(['info', host, '--accept-new']);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain(daemon.fingerprint);
    expect((await sksd(['info', host])).code).toBe(0);
  });

  it('trusts the same certificate on a new port of a pinned host without asking', async () => {
    // A daemon on port 0 gets a new port at each start; the certificate in its state stays.
    const restarted = await startDaemon({ paths: { state: join(daemon.dir, 'state') } });
    try {
      const result = await sksd(['info', `127.0.0.1:${restarted.port}`]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      await restarted.stop();
    }
  });

  it('refuses loudly when the pinned certificate changes', async () => {
    const file = join(home, '.config/sksd/known_hosts.json');
    const original = readFileSync(file, 'utf8');
    const forged = original.replace(
      /"fingerprint": "[0-9A-F:]+"/,
      `"fingerprint": "${'AB:'.repeat(31)}AB"`,
    );
    writeFileSync(file, forged);

    const refused = await sksd(['info', `127.0.0.1:${daemon.port}`]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/does not match/);
    writeFileSync(file, original);
  });

  it('starts a kernel that jupyter_client can use, lists it and stops it', async () => {
    const out = join(home, 'kernel.json');
    const common = ['--host', `127.0.0.1:${daemon.port}`, '--user', user.name];
    const started = await sksd(['kernel', 'start', ...common, '--env', 'analysis', '--out', out], {
      SKSD_PASSWORD: user.password,
    });
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const connection = ConnectionInfo.parse(JSON.parse(readFileSync(out, 'utf8')));
    const result = await executeInKernel(connection, 'import os; print(os.getuid())');
    expect(result.stdout.trim()).toBe(String(user.uid));

    // The session token kept by `kernel start` serves later commands: no password given here.
    const listed = await sksd(['kernel', 'list', ...common, '--json']);
    const kernels = JSON.parse(listed.stdout) as Array<{ id: string }>;
    expect(kernels).toHaveLength(1);

    const stopped = await sksd(['kernel', 'stop', kernels[0]!.id, ...common]);
    expect(stopped.stdout).toMatch(/stopped/);
    expect(JSON.parse((await sksd(['kernel', 'list', ...common, '--json'])).stdout)).toEqual([]);
  });

  it('reports a wrong password as a coded error', async () => {
    const other = mkdtempSync('/tmp/sksd-cli-home-');
    const result = await sksd(
      ['envs', '--host', `127.0.0.1:${daemon.port}`, '--user', user.name, '--accept-new'],
      { SKSD_PASSWORD: 'wrong', HOME: other },
    );
    rmSync(other, { recursive: true, force: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[bad_credentials\]/);
  });

  it('checks a config file and names the line of a mistake', async () => {
    const file = join(home, 'bad.conf');
    writeFileSync(file, 'kernels:\n  perUser: 0\n');
    const result = await sksd(['config', 'check', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/bad\.conf:2: kernels\.perUser: /);
  });

  it('refuses to serve on an invalid config, naming file, line and key', async () => {
    const file = join(home, 'serve-bad.conf');
    writeFileSync(file, '# -*- coding: utf-8 -*-\nlisten:\n  port: 70000\n');
    const result = await sksd(['serve', '--config', file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/serve-bad\.conf:3: listen\.port: /);
  });
});
