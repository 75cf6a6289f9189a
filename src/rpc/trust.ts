/**
 * The client's known-hosts store: which certificate fingerprint each daemon (host:port) had when
 * the user first trusted it, as SSH's known_hosts does for host keys. A JSON file, mode 0600, under
 * ~/.config/sksd. A damaged file is an error, never silently emptied: that would turn every pin
 * back into a first use.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { normalizeFingerprint, sameFingerprint } from '../tls/fingerprint.js';
import { RpcConnectionError, type ConnectOptions } from './client.js';

const Entry = z.object({
  fingerprint: z.string().refine((f) => normalizeFingerprint(f) !== null, 'not a fingerprint'),
  addedAt: z.string(),
});
const FileSchema = z.object({ version: z.literal(1), hosts: z.record(z.string(), Entry) });
type KnownHostsFile = z.infer<typeof FileSchema>;

/** $XDG_CONFIG_HOME/sksd/known_hosts.json, else ~/.config/sksd/known_hosts.json. */
export function defaultKnownHostsPath(env: NodeJS.ProcessEnv = process.env): string {
  // The XDG spec ignores a relative XDG_CONFIG_HOME.
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg?.startsWith('/') === true ? xdg : path.join(os.homedir(), '.config');
  return path.join(base, 'sksd', 'known_hosts.json');
}

/** The store's key for a daemon: `host:port`, an IPv6 address in brackets, names lowercased. */
export function hostKey(host: string, port: number): string {
  const name = host.toLowerCase();
  return isIP(name) === 6 ? `[${name}]:${port}` : `${name}:${port}`;
}

/** Fingerprints of trusted daemons, by host:port. */
export class KnownHosts {
  private constructor(
    readonly file: string,
    private data: KnownHostsFile,
  ) {}

  /** Reads the store; a missing file is an empty store. */
  static async open(file: string = defaultKnownHostsPath()): Promise<KnownHosts> {
    return new KnownHosts(file, await load(file));
  }

  /** The pinned fingerprint of host:port, if any. */
  get(host: string, port: number): string | undefined {
    return this.data.hosts[hostKey(host, port)]?.fingerprint;
  }

  /** Every entry, for `sksd hosts` style listings. */
  entries(): Array<{ host: string; fingerprint: string; addedAt: string }> {
    return Object.entries(this.data.hosts).map(([host, entry]) => ({ host, ...entry }));
  }

  /** Pins a fingerprint for host:port and saves the file. */
  async remember(host: string, port: number, fingerprint: string): Promise<void> {
    const canonical = normalizeFingerprint(fingerprint);
    if (canonical === null) throw new Error(`not a SHA-256 fingerprint: ${fingerprint}`);

    await this.update((hosts) => {
      hosts[hostKey(host, port)] = { fingerprint: canonical, addedAt: new Date().toISOString() };
    });
  }

  /** Removes the pin of host:port, after a deliberate certificate change. True if it existed. */
  async forget(host: string, port: number): Promise<boolean> {
    const key = hostKey(host, port);
    let found = false;
    await this.update((hosts) => {
      found = key in hosts;
      delete hosts[key];
    });
    return found;
  }

  /** Re-reads before writing: two CLI processes pinning different hosts both keep theirs. */
  private async update(change: (hosts: KnownHostsFile['hosts']) => void): Promise<void> {
    const fresh = await load(this.file);
    change(fresh.hosts);
    await save(this.file, fresh);
    this.data = fresh;
  }
}

/**
 * Trust on first use with this store: a known host is pinned; an unknown one is shown to `confirm`
 * (the CLI asks the user, or accepts when told to) and remembered when accepted.
 */
export function trustOnFirstUse(
  store: KnownHosts,
  host: string,
  port: number,
  confirm: (fingerprint: string, hostKey: string) => boolean | Promise<boolean>,
): Pick<ConnectOptions, 'pinnedFingerprint' | 'onFirstUse' | 'pinSource'> {
  const pinned = store.get(host, port);
  if (pinned !== undefined) {
    return { pinnedFingerprint: pinned, pinSource: `the pin in ${store.file}` };
  }

  return {
    onFirstUse: async (fingerprint) => {
      if (!(await confirm(fingerprint, hostKey(host, port)))) return false;

      await store.remember(host, port, fingerprint);
      return true;
    },
  };
}

/** The TLS handshake showed another certificate than the daemon's mDNS announcement names. */
export class AnnouncedMismatchError extends RpcConnectionError {
  override readonly name = 'AnnouncedMismatchError';

  constructor(
    readonly key: string,
    readonly announced: string,
    readonly presented: string,
  ) {
    super(
      'untrusted',
      `The certificate of ${key} is not the one its mDNS announcement names!\n` +
        `  announced: ${announced}\n  presented: ${presented}\n` +
        'Another machine may be answering in its place, or the announcement is stale. Nothing ' +
        'was pinned and nothing was sent. Compare both with the fingerprint in the daemon log; ' +
        'to decide yourself, connect by address (HOST:PORT) and answer the first-use prompt.',
    );
  }
}

/**
 * First contact with a daemon found by mDNS, whose TXT record named its certificate fingerprint:
 * the handshake must show that same certificate, and only then is it pinned (no prompt). A
 * mismatch is refused with AnnouncedMismatchError. This is trust on first use with the
 * announcement as the witness: it catches a wrong or stale announcement, not an attacker who
 * controls both the announcement and the connection (docs/security.md).
 */
export function trustAnnounced(
  store: KnownHosts,
  host: string,
  port: number,
  announced: string,
): Pick<ConnectOptions, 'onFirstUse'> {
  return {
    onFirstUse: async (presented) => {
      if (!sameFingerprint(announced, presented)) {
        throw new AnnouncedMismatchError(hostKey(host, port), announced, presented);
      }
      await store.remember(host, port, presented);
      return true;
    },
  };
}

async function load(file: string): Promise<KnownHostsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, hosts: {} };
    throw error;
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; fix or remove it (pins would be lost)`);
  }
  const checked = FileSchema.safeParse(parsed);
  if (!checked.success) {
    throw new Error(`${file} is not a known-hosts file: ${checked.error.message}`);
  }
  return checked.data;
}

async function save(file: string, data: KnownHostsFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}
