/**
 * Turns a validated config into the settings the daemon runs with: system mode as root, or
 * single-user mode as anyone else (paths under the user's home, only that user may log in).
 */
import { hostname, homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Config } from './schema.js';

/** How the daemon runs: as root for every allowed user, or as one user for that user only. */
export type Mode = { kind: 'system' } | { kind: 'single-user'; user: string };

/** The config plus everything derived from where and as whom the daemon runs. */
export interface Settings {
  readonly config: Config;
  readonly mode: Mode;
  readonly name: string;
  readonly host: string;
  readonly stateDir: string;
  readonly runtimeDir: string;
}

/** Resolves defaults that depend on the running user and the host. */
export function resolveSettings(config: Config, env: NodeJS.ProcessEnv = process.env): Settings {
  const host = hostname();
  const isRoot = process.getuid?.() === 0;
  const mode: Mode = isRoot
    ? { kind: 'system' }
    : { kind: 'single-user', user: userInfo().username };

  const stateDir = config.paths.state ?? (isRoot ? '/var/lib/sksd' : userStateDir(env));
  const runtimeDir = config.paths.runtime ?? (isRoot ? '/run/sksd' : userRuntimeDir(env, stateDir));

  return { config, mode, name: config.name ?? host, host, stateDir, runtimeDir };
}

function userStateDir(env: NodeJS.ProcessEnv): string {
  const base = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'sksd');
}

function userRuntimeDir(env: NodeJS.ProcessEnv, stateDir: string): string {
  // XDG_RUNTIME_DIR exists only inside a login session; a user daemon started otherwise
  // (cron, nohup) falls back to a directory under its state directory.
  const base = env['XDG_RUNTIME_DIR'];
  return base ? join(base, 'sksd') : join(stateDir, 'run');
}
