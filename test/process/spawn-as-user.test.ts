import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupUser, type UserAccount } from '../../src/auth/users.js';
import { spawnAsUser } from '../../src/process/spawn-as-user.js';
import { assertCwdAllowed, runAsUser } from '../../src/process/run-as-user.js';
import { terminateGroup } from '../../src/process/terminate.js';
import { readStat } from '../../src/process/group.js';
import { createGroup, createUser, removeAllTestUsers } from '../helpers/users.js';

const logger = pino({ level: 'silent' });
let user: UserAccount;
let groupGid: number;
let scratch: string;

async function output(argv: string[], cwd?: string): Promise<string> {
  const result = await runAsUser(user, argv, { timeoutMs: 10_000, logger, cwd });
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout.trim();
}

beforeAll(async () => {
  const group = createGroup();
  const created = createUser({ groups: [group] });
  user = (await lookupUser(created.name)) as UserAccount;
  groupGid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
  scratch = mkdtempSync('/tmp/sksd-spawn-');
  chmodSync(scratch, 0o755);
});

afterAll(() => {
  removeAllTestUsers();
  rmSync(scratch, { recursive: true, force: true });
});

describe('spawnAsUser', () => {
  it('runs as the user with the supplementary groups kept', async () => {
    expect(Number(await output(['/usr/bin/id', '-u']))).toBe(user.uid);
    expect(Number(await output(['/usr/bin/id', '-g']))).toBe(user.gid);

    const groups = (await output(['/usr/bin/id', '-G'])).split(' ').map(Number);
    expect(groups).toContain(groupGid);
    expect([...groups].sort()).toEqual([...user.groups].sort());
  });

  it('gives an allowlisted environment and nothing of the daemon', async () => {
    process.env.SKSD_TEST_MARKER = 'daemon-only';
    process.env.SUDO_UID = '0';
    const env = Object.fromEntries(
      (await output(['/usr/bin/env'])).split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
    delete process.env.SKSD_TEST_MARKER;
    delete process.env.SUDO_UID;

    expect(env).toEqual({
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: user.shell,
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
    });
  });

  it('starts in home by default, or in a directory the user can enter; umask 077', async () => {
    expect(await output(['/bin/pwd'])).toBe(user.home);

    const dir = join(scratch, 'work');
    mkdirSync(dir);
    chownSync(dir, user.uid, user.gid);
    expect(await output(['/bin/pwd'], dir)).toBe(dir);
    expect(await output(['/bin/sh', '-c', 'umask'])).toBe('0077');
  });

  it('refuses a working directory the user cannot enter', async () => {
    const closed = join(scratch, 'root-only');
    mkdirSync(closed, { mode: 0o700 });
    await expect(assertCwdAllowed(user, closed, logger)).rejects.toMatchObject({
      errorName: 'cwd_not_allowed',
    });
    await expect(assertCwdAllowed(user, join(scratch, 'missing'), logger)).rejects.toMatchObject({
      errorName: 'cwd_not_allowed',
    });
    await expect(assertCwdAllowed(user, 'relative', logger)).rejects.toMatchObject({
      errorName: 'cwd_not_allowed',
    });
    await expect(assertCwdAllowed(user, scratch, logger)).resolves.toBeUndefined();
  });

  it('execs in place in a new session, stdin closed, output to the given fd', async () => {
    const logPath = join(scratch, 'out.log');
    const fd = openSync(logPath, 'a');
    const child = spawnAsUser(user, ['/bin/sh', '-c', 'echo out; echo err >&2; exec sleep 30'], {
      output: fd,
    });
    closeSync(fd);
    const pid = child.pid as number;
    await new Promise((resolve) => setTimeout(resolve, 300));

    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [, , pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(pgrp)).toBe(pid);
    expect(Number(session)).toBe(pid);
    expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toBe('sleep');
    const uid = new RegExp(`^Uid:\\s+${user.uid}\\s`, 'm');
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(uid);
    expect(readlinkSync(`/proc/${pid}/fd/0`)).toBe('/dev/null');
    expect(readFileSync(logPath, 'utf8')).toBe('out\nerr\n');

    const outcome = await terminateGroup({ pgid: pid, leader: child, termGraceMs: 2000, logger });
    expect(outcome.how).toBe('terminated');
    expect(await readStat(pid)).toBeNull();
  });

  it('stops a short command and its children at the deadline', async () => {
    const argv = ['/bin/sh', '-c', 'sleep 300 & echo started; sleep 300'];
    const result = await runAsUser(user, argv, { timeoutMs: 300, logger });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGTERM', stdout: 'started\n' });
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('spawns directly, without setpriv, for the daemon’s own uid', async () => {
    const root = (await lookupUser('root')) as UserAccount;
    const child = spawnAsUser(root, ['/usr/bin/id', '-u'], { output: 'pipe' });
    expect(child.spawnfile).toBe('/usr/bin/env');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
  });
});
