/**
 * What the benchmark needs, made and removed like the tests do it: Unix users named sksdt*, a
 * conda root driven by the conda STAND-IN (test/fixtures/conda-standin; real conda cannot be
 * installed here), the PAM service file, and the built daemon as its own process.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STANDIN = join(ROOT, 'test/fixtures/conda-standin');
const CLI = join(ROOT, 'dist/cli.js');

/** Creates `count` users with random passwords; returns name, password, uid, gid, home. */
export function createUsers(count) {
  const users = [];
  for (let i = 0; i < count; i++) {
    const name = `sksdtbench${randomBytes(3).toString('hex')}`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', '--user-group', name]);
    execFileSync('chpasswd', [], { input: `${name}:${password}\n` });
    const [, , uid, gid, , home] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' })
      .trim()
      .split(':');
    users.push({ name, password, uid: Number(uid), gid: Number(gid), home });
  }
  return users;
}

/** Removes the users and anything they still run. */
export function removeUsers(users) {
  for (const { name } of users) {
    try {
      execFileSync('pkill', ['-KILL', '-u', name], { stdio: 'ignore' });
    } catch {
      // nothing left to kill
    }
    try {
      execFileSync('userdel', ['--remove', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** A conda root (a venv of /usr/bin/python3 with Debian's spyder-kernels) and one env, `bench`. */
export function makeConda(dir) {
  const root = join(dir, 'conda');
  execFileSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', '--without-pip', root]);
  mkdirSync(join(root, 'conda-meta'));
  writeFileSync(join(root, 'conda-meta', 'history'), '==> bench <==\n');
  const conda = join(root, 'bin', 'conda');
  symlinkSync(STANDIN, conda);
  mkdirSync(join(root, '.standin-tmp'), { mode: 0o1777 });
  chmodSync(join(root, '.standin-tmp'), 0o1777);
  const home = join(dir, 'creator-home');
  mkdirSync(home);
  const env = { PATH: '/usr/bin:/bin', HOME: home };
  execFileSync(conda, ['create', '-n', 'bench', '-y', '--json'], { env, stdio: 'pipe' });
  return { conda, prefix: join(root, 'envs', 'bench') };
}

/** Installs the PAM service file as the package would, unless one is there. */
export function installPam() {
  if (!existsSync('/etc/pam.d/sksd'))
    copyFileSync(join(ROOT, 'packaging/pam.d/sksd'), '/etc/pam.d/sksd');
}

/** A temporary directory users can traverse (their kernel directories live below it). */
export function benchDir() {
  const dir = mkdtempSync('/tmp/sksd-bench-');
  chmodSync(dir, 0o755);
  return dir;
}

/** Starts `sksd serve` with the config; resolves with its port, fingerprint, pid and stop(). */
export async function startDaemon(dir, config) {
  const file = join(dir, 'sksd.conf');
  const runtime = join(dir, 'run');
  const full = {
    listen: { address: '127.0.0.1', port: 0 },
    paths: { state: join(dir, 'state'), runtime },
    log: { level: 'warn' },
    ...config,
  };
  writeFileSync(file, `# -*- coding: utf-8 -*-\n${JSON.stringify(full, null, 1)}\n`);
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file], {
    stdio: ['ignore', process.env.BENCH_DAEMON_LOG ? 'inherit' : 'ignore', 'inherit'],
    env: { PATH: '/usr/bin:/bin' },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const endpoint = JSON.parse(readFileSync(join(runtime, 'sksd.json'), 'utf8'));
      const stop = async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
      };
      return { ...endpoint, pid: child.pid, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error('the daemon did not start');
}

/** The resident set size of a process in MiB, from /proc. */
export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** A one-line description of this machine, for docs/performance.md. */
export function machine() {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const debian = existsSync('/etc/debian_version')
    ? readFileSync('/etc/debian_version', 'utf8').trim()
    : '?';
  const python = execFileSync('/usr/bin/python3', ['--version'], { encoding: 'utf8' }).trim();
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return `${cpus().length} × ${model}, ${gib} GiB RAM, Debian ${debian}, Linux ${release()}, Node ${process.version}, ${python}`;
}

/** Removes a directory tree, ignoring what is gone. */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}
