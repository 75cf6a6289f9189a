/**
 * Temporary conda roots for tests, driven by the conda STAND-IN (test/fixtures/conda-standin),
 * because real conda cannot be installed on the test machines. A root lives in /tmp, is
 * world-readable so that test users can run it, and has ROOT/bin/conda -> the stand-in.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The stand-in executable in the source tree. */
export const CONDA_STANDIN = fileURLToPath(new URL('../fixtures/conda-standin', import.meta.url));

/** A temporary conda installation. */
export interface CondaRoot {
  readonly root: string;
  /** ROOT/bin/conda, a symlink to the stand-in. */
  readonly conda: string;
}

const roots = new Set<string>();

function marksEnv(prefix: string): void {
  mkdirSync(join(prefix, 'conda-meta'), { recursive: true });
  writeFileSync(join(prefix, 'conda-meta', 'history'), '==> test helper <==\n');
}

/**
 * Creates a root whose base environment is a venv of /usr/bin/python3 (spyder-kernels inside).
 * With `owner`, the whole installation (ROOT/envs included) belongs to that user, as a conda
 * installed by a service account would: sksd then runs shared-environment changes as them.
 */
export function makeCondaRoot(options: { owner?: string } = {}): CondaRoot {
  const root = mkdtempSync('/tmp/sksd-conda-');
  roots.add(root);
  chmodSync(root, 0o755);
  execFileSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', '--without-pip', root]);
  marksEnv(root);

  const conda = join(root, 'bin', 'conda');
  symlinkSync(CONDA_STANDIN, conda);
  // Where the stand-in's `run` puts its scripts; a killed conda leaves them, as real conda does.
  const scripts = join(root, '.standin-tmp');
  mkdirSync(scripts);
  chmodSync(scripts, 0o1777);
  if (options.owner !== undefined) {
    mkdirSync(join(root, 'envs'));
    execFileSync('chown', ['-R', '-h', `${options.owner}:`, root]);
  }
  return { root, conda };
}

/**
 * Creates ROOT/envs/NAME with the stand-in's `create`, as root. HOME points into the root so the
 * stand-in's ~/.conda/environments.txt bookkeeping does not touch root's real home.
 */
export function createEnv(root: CondaRoot, name: string): string {
  const home = join(root.root, '.creator-home');
  mkdirSync(home, { recursive: true });
  const env = { PATH: '/usr/bin:/bin', HOME: home };
  execFileSync(root.conda, ['create', '-n', name, '-y', '--json'], { env, stdio: 'pipe' });
  return join(root.root, 'envs', name);
}

/** An environment whose python cannot import spyder_kernels (no system site packages). */
export function createEnvWithoutSpyderKernels(root: CondaRoot, name: string): string {
  const prefix = join(root.root, 'envs', name);
  execFileSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', prefix]);
  marksEnv(prefix);
  return prefix;
}

/**
 * An environment with a FAKE spyder_kernels: importable (version 2.4.2, so it passes the probe),
 * but `python -m spyder_kernels.console` runs consoleSource instead of a kernel: start failures.
 */
export function createEnvWithFakeKernel(root: CondaRoot, name: string, consoleSource: string) {
  const prefix = createEnvWithoutSpyderKernels(root, name);
  const python = join(prefix, 'bin', 'python');
  const code = 'import sysconfig; print(sysconfig.get_paths()["purelib"])';
  const site = execFileSync(python, ['-c', code], { encoding: 'utf8' }).trim();

  const pkg = join(site, 'spyder_kernels');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, '__init__.py'), '__version__ = "2.4.2"\n');
  writeFileSync(join(pkg, 'console.py'), consoleSource);
  return prefix;
}

/** Removes every root this process made. */
export function removeCondaRoots(): void {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
  roots.clear();
}
