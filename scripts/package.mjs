#!/usr/bin/env node
/**
 * `npm run package`: builds the Debian package sksd_VERSION_ARCH.deb with dpkg-deb.
 *
 *   node scripts/package.mjs [--out DIR] [--version VERSION]
 *
 * Layout: the compiled JavaScript and its production node_modules in /usr/lib/sksd, a wrapper in
 * /usr/bin/sksd, the unit in /usr/lib/systemd/system, /etc/sksd.conf (from sksd.conf.example) and
 * /etc/pam.d/sksd as conffiles, sksd(8) built from the CLI's --help, the docs in
 * /usr/share/doc/sksd. The package is for the build machine's architecture only: zeromq and koffi
 * bring prebuilt native code (npm installs the optional package for this platform).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildManPage } from '../packaging/manpage.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = join(ROOT, 'packaging');
const LIB = 'usr/lib/sksd';
// dpkg architecture -> the directory names of Node's process.arch in prebuilt binaries.
const NODE_ARCH = { amd64: 'x64', arm64: 'arm64', armhf: 'arm', i386: 'ia32' };

function sh(cmd, args, options = {}) {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    ...options,
  });
}

function parseArgs(argv) {
  const options = { out: join(ROOT, 'build'), version: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if ((flag === '--out' || flag === '--version') && value !== undefined) {
      options[flag.slice(2)] = value;
      i++;
    } else {
      throw new Error(`usage: package.mjs [--out DIR] [--version VERSION]; not: ${flag}`);
    }
  }

  return options;
}

/** npm's semver to a Debian version: a pre-release sorts before its release (1.0.0~rc.1). */
export function debianVersion(version) {
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$/.test(version)) {
    throw new Error(`not a version sksd packages: ${version}`);
  }

  return version.replace('-', '~');
}

function copy(from, to, mode) {
  fs.mkdirSync(dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, mode);
}

function write(to, content, mode) {
  fs.mkdirSync(dirname(to), { recursive: true });
  fs.writeFileSync(to, content);
  fs.chmodSync(to, mode);
}

/** Compiled JavaScript, a trimmed package.json and production dependencies in STAGE/LIB. */
function stageApplication(stage, version) {
  const lib = join(stage, LIB);
  const dist = join(lib, 'dist');
  sh('npx', ['--no-install', 'tsc', '-p', ROOT, '--outDir', dist, '--sourceMap', 'false']);

  // npm ci checks package.json against the lock file, so it runs on the originals; the
  // installed package.json keeps only what the daemon reads at run time (version, type).
  // No install scripts: the native parts come prebuilt in the packages themselves.
  for (const file of ['package.json', 'package-lock.json']) {
    fs.copyFileSync(join(ROOT, file), join(lib, file));
  }
  const flags = ['--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'];
  sh('npm', ['ci', ...flags, '--loglevel=error'], { cwd: lib });

  const pkg = JSON.parse(fs.readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const trimmed = {
    name: pkg.name,
    version: version ?? pkg.version,
    description: pkg.description,
    license: pkg.license,
    type: pkg.type,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  fs.writeFileSync(join(lib, 'package.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
  fs.rmSync(join(lib, 'package-lock.json'));

  return trimmed.version;
}

/**
 * Removes native binaries for other systems. Only whole platforms go: zeromq's loader tries its
 * builds for this platform one by one (the newest needs glibc 2.38, Debian 12 has 2.36), so all
 * of them stay.
 */
function pruneForeignBinaries(lib, arch) {
  const nodeArch = NODE_ARCH[arch];
  const zeromq = join(lib, 'node_modules/zeromq/build');
  for (const os of ['darwin', 'win32']) {
    fs.rmSync(join(zeromq, os), { recursive: true, force: true });
  }
  for (const other of fs.readdirSync(join(zeromq, 'linux'))) {
    if (other !== nodeArch) fs.rmSync(join(zeromq, 'linux', other), { recursive: true });
  }
  for (const dir of fs.readdirSync(join(lib, 'node_modules/@koromix'))) {
    const musl = join(lib, 'node_modules/@koromix', dir, `musl_${nodeArch}`);
    fs.rmSync(musl, { recursive: true, force: true });
  }
}

function stageSystemFiles(stage, version) {
  copy(join(PKG, 'sksd.sh'), join(stage, 'usr/bin/sksd'), 0o755);
  copy(join(PKG, 'sksd.service'), join(stage, 'usr/lib/systemd/system/sksd.service'), 0o644);
  copy(join(PKG, 'pam.d/sksd'), join(stage, 'etc/pam.d/sksd'), 0o644);
  copy(join(ROOT, 'sksd.conf.example'), join(stage, 'etc/sksd.conf'), 0o644);

  const date = new Date().toISOString().slice(0, 10);
  const page = buildManPage(join(stage, LIB, 'dist/cli.js'), version, date);
  write(join(stage, 'usr/share/man/man8/sksd.8.gz'), gzipSync(page, { level: 9 }), 0o644);

  const doc = join(stage, 'usr/share/doc/sksd');
  for (const file of ['README.md', 'CHANGELOG.md']) copy(join(ROOT, file), join(doc, file), 0o644);
  for (const file of fs.readdirSync(join(ROOT, 'docs'))) {
    if (file.endsWith('.md')) copy(join(ROOT, 'docs', file), join(doc, file), 0o644);
  }

  const license = fs.readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  write(join(doc, 'copyright'), `sksd is distributed under the MIT license:\n\n${license}`, 0o644);
}

/** Directories 0755; files 0755 if anyone could execute them, else 0644. Symlinks as they are. */
function normalizeModes(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;

    if (entry.isDirectory()) {
      fs.chmodSync(path, 0o755);
      normalizeModes(path);
    } else {
      fs.chmodSync(path, fs.statSync(path).mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/** Every regular file below dir, as paths relative to root. */
function filesBelow(root, dir = root) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesBelow(root, path);
    return entry.isFile() ? [relative(root, path)] : [];
  });
}

const md5 = (path) => createHash('md5').update(fs.readFileSync(path)).digest('hex');

function stageControl(stage, version, arch) {
  const conffiles = fs.readFileSync(join(PKG, 'debian/conffiles'), 'utf8');
  const files = filesBelow(stage).sort();
  const bytes = files.reduce((sum, file) => sum + fs.statSync(join(stage, file)).size, 0);

  // Like dh_md5sums: every shipped file but the conffiles, which dpkg tracks on its own.
  const md5sums = files
    .filter((file) => !conffiles.includes(`/${file}\n`))
    .map((file) => `${md5(join(stage, file))}  ${file}\n`)
    .join('');

  const control = fs
    .readFileSync(join(PKG, 'debian/control.in'), 'utf8')
    .replace('@VERSION@', debianVersion(version))
    .replace('@ARCH@', arch)
    .replace('@MAINTAINER@', process.env.DEBEMAIL ?? 'sksd developers <sksd@localhost.invalid>')
    .replace('@SIZE@', String(Math.ceil(bytes / 1024)));

  const debian = join(stage, 'DEBIAN');
  write(join(debian, 'control'), control, 0o644);
  write(join(debian, 'conffiles'), conffiles, 0o644);
  write(join(debian, 'md5sums'), md5sums, 0o644);

  for (const script of ['postinst', 'prerm', 'postrm']) {
    copy(join(PKG, 'debian', script), join(debian, script), 0o755);
  }
}

/** Builds the package; returns its path. */
export function buildPackage(options) {
  const arch = sh('dpkg', ['--print-architecture']).trim();
  if (NODE_ARCH[arch] === undefined) throw new Error(`no Node.js prebuilt binaries for ${arch}`);

  const stage = fs.mkdtempSync(join(fs.realpathSync('/tmp'), 'sksd-package-'));
  try {
    fs.chmodSync(stage, 0o755);
    const version = stageApplication(stage, options.version);
    pruneForeignBinaries(join(stage, LIB), arch);
    stageSystemFiles(stage, version);
    normalizeModes(stage);
    stageControl(stage, version, arch);

    fs.mkdirSync(options.out, { recursive: true });
    const deb = join(options.out, `sksd_${debianVersion(version)}_${arch}.deb`);
    sh('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: 'ignore' });

    return deb;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const deb = buildPackage(parseArgs(process.argv.slice(2)));
  const size = (fs.statSync(deb).size / 1e6).toFixed(1);
  process.stdout.write(`${deb} (${size} MB, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
