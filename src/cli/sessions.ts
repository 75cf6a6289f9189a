/**
 * The CLI's session tokens, one per host and user, in ~/.config/sksd/sessions.json (0600), so a
 * user types the password once per token lifetime rather than once per command.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';

const Entry = z.object({ user: z.string(), token: z.string(), expiresAt: z.string() });
const Store = z.record(z.string(), Entry);

/** A stored session for one host and user. */
export type SessionEntry = z.infer<typeof Entry>;

/** Default location, under XDG_CONFIG_HOME when set. */
export function defaultSessionsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'sksd', 'sessions.json');
}

/** Reads and writes the session file; an unreadable or corrupt file counts as empty. */
export class SessionStore {
  constructor(private readonly file = defaultSessionsFile()) {}

  /** A session still valid for at least a minute, or null. */
  async get(endpoint: string, user: string): Promise<SessionEntry | null> {
    const entry = (await this.read())[key(endpoint, user)];
    if (!entry) return null;
    return Date.parse(entry.expiresAt) - Date.now() > 60_000 ? entry : null;
  }

  async put(endpoint: string, entry: SessionEntry): Promise<void> {
    const all = await this.read();
    all[key(endpoint, entry.user)] = entry;
    await this.write(all);
  }

  async delete(endpoint: string, user: string): Promise<void> {
    const all = await this.read();
    delete all[key(endpoint, user)];
    await this.write(all);
  }

  private async read(): Promise<Record<string, SessionEntry>> {
    try {
      const parsed = Store.safeParse(JSON.parse(await readFile(this.file, 'utf8')));
      return parsed.success ? parsed.data : {};
    } catch {
      return {};
    }
  }

  private async write(all: Record<string, SessionEntry>): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, this.file);
  }
}

function key(endpoint: string, user: string): string {
  return `${user}@${endpoint}`;
}
