/**
 * The conda stand-in's own behaviour: the tests of sksd are only as good as the stand-in's
 * faithfulness to the real conda on the points sksd depends on (see the stand-in's header).
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { runAsUser } from '../../src/process/run-as-user.js';
import { liveMembers, readStat, signalGroup } from '../../src/process/group.js';
import { createEnv, makeCondaRoot, removeCondaRoots, type CondaRoot } from '../helpers/conda.js';
import { createAccount, removeAllTestUsers } from '../helpers/users.js';

const logger = pino({ level: 'silent' });
let conda: CondaRoot;
let prefix: string;
let user: UserAccount;
const env = { PATH: '/usr/bin:/bin', HOME: '/nonexistent' };

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(conda.conda, args, { env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  conda = makeCondaRoot();
  prefix = createEnv(conda, 'work');
  user = await createAccount();
});

afterAll(() => {
  removeAllTestUsers();
  removeCondaRoots();
});

describe('conda stand-in', () => {
  it('lists base (the directory above bin/) first, then ROOT/envs', async () => {
    const result = await run(['env', 'list', '--json']);
    expect(JSON.parse(result.stdout)).toEqual({ envs: [conda.root, prefix] });
  });

  it('creates a user’s env in ~/.conda/envs (ROOT/envs is read-only) and lists it', async () => {
    const created = await runAsUser(user, [conda.conda, 'create', '-n', 'mine', '-y', '--json'], {
      timeoutMs: 30_000,
      logger,
    });
    const mine = `${user.home}/.conda/envs/mine`;
    expect(JSON.parse(created.stdout)).toMatchObject({ success: true, prefix: mine });
    expect(existsSync(`${mine}/conda-meta/history`)).toBe(true);
    expect(readFileSync(`${user.home}/.conda/environments.txt`, 'utf8')).toBe(`${mine}\n`);

    const list = [conda.conda, 'env', 'list', '--json'];
    const listed = await runAsUser(user, list, { timeoutMs: 10_000, logger });
    expect(JSON.parse(listed.stdout).envs).toEqual([conda.root, prefix, mine]);
  });

  it('activates the env and passes the exit code through', async () => {
    const code = [
      'import os, sys',
      'print(sys.prefix, os.environ["CONDA_PREFIX"], os.environ["CONDA_DEFAULT_ENV"])',
      'sys.exit(7)',
    ].join('\n');
    const result = await run(['run', '-n', 'work', 'python', '-c', code]);
    expect(result.code).toBe(7);
    expect(result.stdout.trim()).toBe(`${prefix} ${prefix} work`);
  });

  it('exits 1 for a missing env and 127 for a missing command', async () => {
    expect((await run(['run', '-n', 'nope', 'true'])).code).toBe(1);
    expect((await run(['run', '-p', '/tmp', 'true'])).code).toBe(1);
    expect((await run(['run', '-n', 'work', 'no-such-command-sksd'])).code).toBe(127);
  });

  it('holds output until the command exits unless --no-capture-output', async () => {
    const code = 'import time; print("early", flush=True); time.sleep(1.5)';
    for (const live of [false, true]) {
      const flags = live ? ['--no-capture-output'] : [];
      const args = ['run', ...flags, '-n', 'work', 'python', '-c', code];
      const child = spawn(conda.conda, args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
      let seen = '';
      child.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
      await sleep(1000);
      expect(seen).toBe(live ? 'early\n' : '');
      await once(child, 'exit');
      expect(seen).toBe('early\n');
    }
  });

  it('runs conda -> bash -> CMD; SIGTERM to conda leaves bash and CMD running', async () => {
    const args = ['run', '--no-capture-output', '-n', 'work', 'sleep', '300'];
    const child = spawn(conda.conda, args, { env, stdio: 'ignore', detached: true });
    const pgid = child.pid as number;
    try {
      for (let i = 0; i < 100 && (await liveMembers(pgid)).length < 3; i++) await sleep(20);
      const members = await liveMembers(pgid);
      const stats = await Promise.all(members.map((pid) => readStat(pid)));
      const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const bash = stats.find((s) => s?.ppid === pgid);
      const cmd = stats.find((s) => s?.ppid === bash?.pid);
      expect(bash && comm(bash.pid)).toBe('bash');
      expect(cmd && comm(cmd.pid)).toBe('sleep');

      process.kill(pgid, 'SIGTERM');
      await once(child, 'exit');
      await sleep(200);
      expect((await liveMembers(pgid)).sort()).toEqual([bash?.pid, cmd?.pid].sort());
    } finally {
      signalGroup(pgid, 'SIGKILL');
    }
  });
});
