/**
 * Builds dist/ once before the suite, so tests that run the real `sksd` command line (a separate
 * process, as in production) never run stale JavaScript.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: root, stdio: 'inherit' });
}
