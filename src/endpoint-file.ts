/**
 * `<runtime>/sksd.json`: where a running daemon tells local clients its port and certificate
 * fingerprint. The file is written by the daemon (root in system mode) into a directory only it
 * can write, so a local client may trust the fingerprint in it without asking the user.
 */
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

export const ENDPOINT_FILE = 'sksd.json';

const Endpoint = z.object({
  pid: z.number().int(),
  address: z.string(),
  port: z.number().int().min(1).max(65535),
  fingerprint: z.string(),
  name: z.string(),
});

/** What a running daemon publishes about itself for local clients. */
export type Endpoint = z.infer<typeof Endpoint>;

/** Writes the file atomically (rename), world-readable: it holds nothing secret. */
export async function writeEndpoint(runtimeDir: string, endpoint: Endpoint): Promise<string> {
  const path = join(runtimeDir, ENDPOINT_FILE);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(endpoint, null, 2)}\n`);
  // Explicitly: the daemon's umask is 077, which would leave the file readable by root alone.
  await chmod(temporary, 0o644);
  await rename(temporary, path);
  return path;
}

/** Removes the file at shutdown; a missing file is fine. */
export async function removeEndpoint(runtimeDir: string): Promise<void> {
  await rm(join(runtimeDir, ENDPOINT_FILE), { force: true });
}

/** Runtime directories a local daemon may use, system daemon first. */
export function localRuntimeDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = ['/run/sksd'];
  if (env['XDG_RUNTIME_DIR']) dirs.push(join(env['XDG_RUNTIME_DIR'], 'sksd'));
  const state = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  dirs.push(join(state, 'sksd', 'run'));
  return dirs;
}

/** Finds a running local daemon's endpoint; stale files (dead pid) are skipped. */
export async function findLocalEndpoint(dirs = localRuntimeDirs()): Promise<Endpoint | null> {
  for (const dir of dirs) {
    let text: string;
    try {
      text = await readFile(join(dir, ENDPOINT_FILE), 'utf8');
    } catch {
      continue;
    }
    const parsed = Endpoint.safeParse(safeJson(text));
    if (parsed.success && isAlive(parsed.data.pid)) return parsed.data;
  }
  return null;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else (a root daemon seen by a user).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
