/**
 * Runs the built `sksd` command line as a client would, with a small environment of its own: the
 * test's HOME keeps the client's config (pinned certificates, session tokens) out of the real one.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI } from './daemon.js';

const run = promisify(execFile);

/** How one CLI run ended and what it printed. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment a CLI run gets: PATH, the given HOME, and `extra` over them. */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, ...extra };
}

/** Runs `sksd ARGS` with exactly `env`; never throws, so a test can assert on a failure's code. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
