/**
 * Once before the suite: builds dist/, so tests that run the real `sksd` command line (a separate
 * process, as in production) never run stale JavaScript; and installs /etc/pam.d/sksd as the
 * Debian package would. Installing it here, not per file, keeps test files from re-creating it
 * while the package test checks that a purge removed it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { installPamService } from './helpers/system.js';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: root, stdio: 'inherit' });
  installPamService();
}
