/**
 * The Debian package on this machine: `npm run package` builds it, dpkg installs it (nothing
 * starts: systemd is not PID 1 here), an upgrade keeps an edited /etc/sksd.conf, and a purge
 * leaves nothing behind. The machine is shared with other tests, which install the PAM service
 * file and may keep state in /var/lib/sksd: what the package would remove is saved first and put
 * back at the end. A machine where sksd is installed already is left alone (the suite says so).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/users.js';

type Pkg = { version: string };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Pkg).version;

/** Paths the package's purge removes that may exist before the test; saved and restored. */
const SHARED = ['/etc/pam.d/sksd', '/etc/sksd.conf', '/var/lib/sksd'];

function installedVersion(): string | null {
  const format = '-f=${Status} ${Version}';
  const run = spawnSync('dpkg-query', ['-W', format, 'sksd'], { encoding: 'utf8' });

  return /^install ok installed (\S+)/.exec(run.stdout)?.[1] ?? null;
}

/** dpkg, waiting out another process's dpkg lock (apt in a parallel test setup). */
function dpkg(...args: string[]): string {
  const deadline = Date.now() + 60_000;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (;;) {
    const run = spawnSync('dpkg', args, { encoding: 'utf8', env });
    if (run.status === 0) return run.stdout;

    if (!/lock/i.test(run.stderr) || Date.now() > deadline) {
      throw new Error(`dpkg ${args.join(' ')} failed (${run.status}):\n${run.stdout}${run.stderr}`);
    }
    execFileSync('sleep', ['1']);
  }
}

/** A copy of `deb` with another version and, optionally, another shipped /etc/sksd.conf. */
function repack(deb: string, dir: string, version: string, confTail?: string): string {
  const tree = join(dir, `tree-${version}`);
  execFileSync('dpkg-deb', ['-R', deb, tree]);

  const rewrite = (file: string, from: string | RegExp, to: string) =>
    writeFileSync(join(tree, file), readFileSync(join(tree, file), 'utf8').replace(from, to));
  rewrite('DEBIAN/control', /^Version: .*$/m, `Version: ${version}`);
  rewrite('usr/lib/sksd/package.json', `"version": "${VERSION}"`, `"version": "${version}"`);
  if (confTail !== undefined) writeFileSync(join(tree, 'etc/sksd.conf'), confTail, { flag: 'a' });

  const target = join(dir, `sksd_${version}.deb`);
  // Fast compression: these copies only exist for the upgrade steps.
  const build = ['--root-owner-group', '-Zgzip', '-z1', '--build', tree, target];
  execFileSync('dpkg-deb', build, { stdio: 'ignore' });

  return target;
}

const COPY = { recursive: true, preserveTimestamps: true };
const read = (path: string): string => readFileSync(path, 'utf8');
const out = (cmd: string, ...args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const mode = (path: string): string => (statSync(path).mode & 0o7777).toString(8);
const sksd = (...args: string[]): string =>
  execFileSync('/usr/bin/sksd', args, { encoding: 'utf8' });

const preinstalled = isRoot() ? installedVersion() : null;
const title = preinstalled
  ? `the Debian package (skipped: sksd ${preinstalled} is installed here, and this test purges it)`
  : 'the Debian package';

describe.skipIf(!isRoot() || preinstalled !== null)(title, () => {
  const dir = mkdtempSync('/tmp/sksd-pkgtest-');
  const saved = join(dir, 'saved');
  let deb = '';

  beforeAll(() => {
    for (const path of SHARED) {
      if (existsSync(path)) cpSync(path, join(saved, path), COPY);
    }

    const args = ['run', '--silent', 'package', '--', '--out', dir];
    const run = spawnSync('npm', args, { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    deb = run.stdout.trim().split(' ')[0] ?? '';
  }, 150_000);

  afterAll(() => {
    if (installedVersion() !== null) dpkg('--purge', 'sksd');
    for (const path of SHARED) {
      if (existsSync(join(saved, path))) cpSync(join(saved, path), path, COPY);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('is named and described for this architecture, with a nodejs that satisfies engines', () => {
    const arch = out('dpkg', '--print-architecture');
    expect(deb).toBe(join(dir, `sksd_${VERSION}_${arch}.deb`));

    expect(out('dpkg-deb', '-f', deb, 'Depends')).toContain('nodejs (>= 20.19)');
    expect(out('dpkg-deb', '-f', deb, 'Version')).toBe(VERSION);
    const conffiles = out('dpkg-deb', '-I', deb, 'conffiles').split('\n');
    expect(conffiles).toEqual(expect.arrayContaining(['/etc/sksd.conf', '/etc/pam.d/sksd']));
  });

  it('installs its files with their modes and starts nothing', () => {
    dpkg('--force-confdef', '--force-confold', '-i', deb);

    expect(sksd('--version').trim()).toBe(VERSION);
    expect(sksd('config', 'check', '/etc/sksd.conf')).toContain('OK');
    expect(mode('/usr/bin/sksd')).toBe('755');
    expect(mode('/usr/lib/sksd/dist/cli.js')).toBe('644');
    expect(mode('/usr/lib/systemd/system/sksd.service')).toBe('644');
    expect(read('/etc/sksd.conf')).toBe(read(join(ROOT, 'sksd.conf.example')));
    expect(read('/etc/pam.d/sksd')).toBe(read(join(ROOT, 'packaging/pam.d/sksd')));
    expect(out('man', '-w', 'sksd')).toBe('/usr/share/man/man8/sksd.8.gz');

    // Only this platform's native code; only production dependencies.
    expect(existsSync('/usr/lib/sksd/node_modules/zeromq/build/darwin')).toBe(false);
    expect(existsSync('/usr/lib/sksd/node_modules/typescript')).toBe(false);

    // No unit enabled, no daemon running: systemd is not PID 1 here.
    expect(existsSync('/etc/systemd/system/multi-user.target.wants/sksd.service')).toBe(false);
    expect(spawnSync('pgrep', ['-f', '/usr/lib/sksd/dist/cli.js']).status).toBe(1);
  });

  it('has a manual page that renders cleanly and lists every command of --help', () => {
    const page = gunzipSync(readFileSync('/usr/share/man/man8/sksd.8.gz')).toString('utf8');
    const groff = ['-man', '-Tutf8', '-ww', '-z'];
    expect(spawnSync('groff', groff, { input: page, encoding: 'utf8' }).stderr).toBe('');

    const listed = sksd('--help').split('Commands:')[1];
    const commands = listed?.match(/^ {2}[a-z][\w-]*/gm) ?? [];
    expect(commands.length).toBeGreaterThan(3);
    for (const command of commands.map((c) => c.trim()).filter((c) => c !== 'help')) {
      expect(page, command).toContain(`.SS "sksd ${command}`);
    }
  });

  it('ships a unit that systemd-analyze verifies once installed', () => {
    const unit = '/usr/lib/systemd/system/sksd.service';
    const run = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('keeps an edited /etc/sksd.conf through upgrades', () => {
    const edited = read('/etc/sksd.conf').replace('level: info', 'level: warn');
    writeFileSync('/etc/sksd.conf', edited);

    // The package's own conffile unchanged: dpkg keeps the admin's without asking.
    dpkg('-i', repack(deb, dir, `${VERSION}+pkgtest1`));
    expect(sksd('--version').trim()).toBe(`${VERSION}+pkgtest1`);
    expect(read('/etc/sksd.conf')).toBe(edited);

    // Both changed: the admin's stays, the package's lands next to it.
    const changed = repack(deb, dir, `${VERSION}+pkgtest2`, '# new\n');
    dpkg('--force-confdef', '--force-confold', '-i', changed);
    expect(sksd('--version').trim()).toBe(`${VERSION}+pkgtest2`);
    expect(read('/etc/sksd.conf')).toBe(edited);
    expect(read('/etc/sksd.conf.dpkg-dist')).toMatch(/# new\n$/);
  });

  it('purges everything, state directory included', () => {
    execFileSync('mkdir', ['-p', '/var/lib/sksd/tls']);
    dpkg('--purge', 'sksd');

    expect(installedVersion()).toBeNull();
    const gone = [
      '/usr/bin/sksd',
      '/usr/lib/sksd',
      '/usr/lib/systemd/system/sksd.service',
      '/etc/sksd.conf',
      '/etc/sksd.conf.dpkg-dist',
      '/etc/pam.d/sksd',
      '/var/lib/sksd',
      '/usr/share/man/man8/sksd.8.gz',
    ];
    for (const path of gone) expect(existsSync(path), path).toBe(false);
  });
});
