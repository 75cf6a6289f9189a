/**
 * Runs the real daemon as a separate process (`node dist/cli.js serve --config FILE`), as systemd
 * would, with its config and directories in a temporary place. Collects its JSON log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A running daemon under test. */
export interface TestDaemon {
  readonly port: number;
  readonly fingerprint: string;
  readonly dir: string;
  readonly runtimeDir: string;
  readonly process: ChildProcess;
  /** Every log line so far, raw. */
  logs(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const dirs = new Set<string>();

/**
 * Starts a daemon with `config` merged over test defaults (loopback, temp paths); `env` adds
 * variables to its small environment (NOTIFY_SOCKET, for instance). `reuseDir`, the `dir` of an
 * earlier daemon, restarts on its state and runtime directories, as after a reboot of the service.
 */
export async function startDaemon(
  config: Record<string, unknown> = {},
  env: Record<string, string> = {},
  reuseDir?: string,
): Promise<TestDaemon> {
  // Under /tmp with mode 0755: test users must traverse it to reach their kernel directory.
  const dir = reuseDir ?? mkdtempSync('/tmp/sksd-daemon-');
  chmodSync(dir, 0o755);
  dirs.add(dir);
  // A daemon killed with SIGKILL leaves its endpoint file; the new one must not be mistaken for it.
  rmSync(join(dir, 'run', 'sksd.json'), { force: true });
  const runtimeDir = join(dir, 'run');
  const file = join(dir, 'sksd.conf');
  // The runtime directory is always this daemon's own: the helper finds the daemon through it.
  const paths = { state: join(dir, 'state'), ...(config['paths'] as object), runtime: runtimeDir };
  const merged = { listen: { address: '127.0.0.1', port: 0 }, ...config, paths };
  writeFileSync(file, `# -*- coding: utf-8 -*-\n${stringify(merged)}`);

  const child = spawn(process.execPath, [CLI, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', SKSD_TEST_MARKER: 'daemon-env', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );

  const endpoint = await waitForEndpoint(join(runtimeDir, 'sksd.json'), child, () => output);
  return {
    port: endpoint.port,
    fingerprint: endpoint.fingerprint,
    dir,
    runtimeDir,
    process: child,
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * The port and fingerprint from a starting daemon's endpoint file, once it is written; fails with
 * the daemon's output if the daemon exits first or takes longer than 20 s.
 */
export async function waitForEndpoint(
  file: string,
  child: ChildProcess,
  output: () => string,
): Promise<{ port: number; fingerprint: string }> {
  const deadline = Date.now() + 20_000;
  // Both codes stay null until the process has exited, by itself or by a signal.
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { port: number; fingerprint: string };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(`the daemon did not start:\n${output()}`);
}

/** Removes the temporary directories of every daemon started here. */
export function removeDaemonDirs(): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
