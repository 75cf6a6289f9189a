/**
 * The Debian package on this machine: `npm run package` builds it, dpkg installs it (nothing
 * starts: systemd is not PID 1 here), an upgrade keeps an edited /etc/sksd.conf, and a purge
 * leaves nothing behind. The machine is shared with other tests, which install the PAM service
 * file and may keep state in /var/lib/sksd: what the package would remove is saved first and put
 * back at the end. A machine where sksd is installed already is left alone (the suite says so).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/users.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Paths the package's purge removes that may exist before the test; saved and restored. */
const SHARED = ['/etc/pam.d/sksd', '/etc/sksd.conf', '/var/lib/sksd'];

function installedVersion(): string | null {
  const run = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', 'sksd'], { encoding: 'utf8' });
  const match = /^install ok installed (\S+)/.exec(run.stdout);
  return match?.[1] ?? null;
}

/** dpkg, waiting out another process's dpkg lock (apt in a parallel test setup). */
function dpkg(...args: string[]): string {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = spawnSync('dpkg', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
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
  const control = join(tree, 'DEBIAN/control');
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}`));
  const pkgJson = join(tree, 'usr/lib/sksd/package.json');
  writeFileSync(pkgJson, readFileSync(pkgJson, 'utf8').replace(`"version": "${VERSION}"`, `"version": "${version}"`));
  if (confTail !== undefined) writeFileSync(join(tree, 'etc/sksd.conf'), confTail, { flag: 'a' });

  const out = join(dir, `sksd_${version}.deb`);
  // Fast compression: these copies only exist for the upgrade steps.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', tree, out], { stdio: 'ignore' });
  return out;
}

const mode = (path: string): string => (statSync(path).mode & 0o7777).toString(8);
const sksd = (...args: string[]): string => execFileSync('/usr/bin/sksd', args, { encoding: 'utf8' });

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
      if (existsSync(path)) cpSync(path, join(saved, path), { recursive: true, preserveTimestamps: true });
    }
    const run = spawnSync('npm', ['run', '--silent', 'package', '--', '--out', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    deb = run.stdout.trim().split(' ')[0] ?? '';
  }, 150_000);

  afterAll(() => {
    if (installedVersion() !== null) dpkg('--purge', 'sksd');
    for (const path of SHARED) {
      if (existsSync(join(saved, path))) cpSync(join(saved, path), path, { recursive: true, preserveTimestamps: true });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('is named and described for this architecture, with a nodejs that satisfies engines', () => {
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    expect(deb).toBe(join(dir, `sksd_${VERSION}_${arch}.deb`));

    const field = (name: string) => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
    expect(field('Depends')).toContain('nodejs (>= 20.19)');
    expect(field('Version')).toBe(VERSION);
    expect(execFileSync('dpkg-deb', ['-I', deb, 'conffiles'], { encoding: 'utf8' }).split('\n'))
      .toEqual(expect.arrayContaining(['/etc/sksd.conf', '/etc/pam.d/sksd']));
  });

  it('installs its files with their modes and starts nothing', () => {
    dpkg('--force-confdef', '--force-confold', '-i', deb);

    expect(sksd('--version').trim()).toBe(VERSION);
    expect(sksd('config', 'check', '/etc/sksd.conf')).toContain('OK');
    expect(mode('/usr/bin/sksd')).toBe('755');
    expect(mode('/usr/lib/sksd/dist/cli.js')).toBe('644');
    expect(mode('/usr/lib/systemd/system/sksd.service')).toBe('644');
    expect(readFileSync('/etc/sksd.conf', 'utf8')).toBe(readFileSync(join(ROOT, 'sksd.conf.example'), 'utf8'));
    expect(readFileSync('/etc/pam.d/sksd', 'utf8')).toBe(readFileSync(join(ROOT, 'packaging/pam.d/sksd'), 'utf8'));
    expect(execFileSync('man', ['-w', 'sksd'], { encoding: 'utf8' }).trim()).toBe('/usr/share/man/man8/sksd.8.gz');
    // Only this platform's native code; only production dependencies.
    expect(existsSync('/usr/lib/sksd/node_modules/zeromq/build/darwin')).toBe(false);
    expect(existsSync('/usr/lib/sksd/node_modules/typescript')).toBe(false);

    // No unit enabled, no daemon running: systemd is not PID 1 here.
    expect(existsSync('/etc/systemd/system/multi-user.target.wants/sksd.service')).toBe(false);
    expect(spawnSync('pgrep', ['-f', '/usr/lib/sksd/dist/cli.js']).status).toBe(1);
  });

  it('has a manual page that renders cleanly and lists every command of --help', () => {
    const page = gunzipSync(readFileSync('/usr/share/man/man8/sksd.8.gz')).toString('utf8');
    const lint = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
    expect(lint.stderr).toBe('');

    const commands = sksd('--help').split('Commands:')[1]?.match(/^ {2}[a-z][\w-]*/gm) ?? [];
    expect(commands.length).toBeGreaterThan(3);
    for (const command of commands.map((c) => c.trim()).filter((c) => c !== 'help')) {
      expect(page, command).toContain(`.SS "sksd ${command}`);
    }
  });

  it('ships a unit that systemd-analyze verifies once installed', () => {
    const run = spawnSync('systemd-analyze', ['verify', '/usr/lib/systemd/system/sksd.service'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('keeps an edited /etc/sksd.conf through upgrades', () => {
    const edited = readFileSync('/etc/sksd.conf', 'utf8').replace('level: info', 'level: warn');
    writeFileSync('/etc/sksd.conf', edited);

    // The package's own conffile unchanged: dpkg keeps the admin's without asking.
    dpkg('-i', repack(deb, dir, `${VERSION}+pkgtest1`));
    expect(sksd('--version').trim()).toBe(`${VERSION}+pkgtest1`);
    expect(readFileSync('/etc/sksd.conf', 'utf8')).toBe(edited);

    // Both changed: the admin's stays, the package's lands next to it.
    dpkg('--force-confdef', '--force-confold', '-i', repack(deb, dir, `${VERSION}+pkgtest2`, '# new\n'));
    expect(sksd('--version').trim()).toBe(`${VERSION}+pkgtest2`);
    expect(readFileSync('/etc/sksd.conf', 'utf8')).toBe(edited);
    expect(readFileSync('/etc/sksd.conf.dpkg-dist', 'utf8')).toMatch(/# new\n$/);
  });

  it('purges everything, state directory included', () => {
    execFileSync('mkdir', ['-p', '/var/lib/sksd/tls']);
    dpkg('--purge', 'sksd');

    expect(installedVersion()).toBeNull();
    for (const path of ['/usr/bin/sksd', '/usr/lib/sksd', '/usr/lib/systemd/system/sksd.service',
      '/etc/sksd.conf', '/etc/sksd.conf.dpkg-dist', '/etc/pam.d/sksd', '/var/lib/sksd',
      '/usr/share/man/man8/sksd.8.gz']) {
      expect(existsSync(path), path).toBe(false);
    }
  });
});
