/**
 * Opens an authenticated connection for a client command: trust the certificate (CA file, pin,
 * the local daemon's own endpoint file, the fingerprint a daemon found by mDNS announces, or the
 * user's yes on first use), then resume the stored session or log in with a password.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { userInfo } from 'node:os';
import { connect, RpcError, type RpcClient } from '../rpc/client.js';
import { Methods } from '../rpc/methods.js';
import { KnownHosts, hostKey, trustAnnounced, trustOnFirstUse } from '../rpc/trust.js';
import { readPassword } from './password.js';
import { SessionStore } from './sessions.js';
import { parseHostPort, resolveTarget } from './target.js';
import { sameFingerprint } from '../tls/fingerprint.js';

/** Options every client command accepts. */
export interface ClientOptions {
  host: string;
  user?: string;
  ca?: string;
  acceptNew?: boolean;
}

/** A connection whose certificate was checked, and the host:port it went to. */
export interface Opened {
  client: RpcClient;
  endpoint: string;
}

/** Connects and checks the certificate; no login. */
export async function openConnection(options: ClientOptions): Promise<Opened> {
  const target = await resolveTarget(options.host);
  const endpoint = hostKey(target.host, target.port);
  const at = { host: target.connectHost, port: target.port };
  if (options.ca !== undefined) {
    const ca = await readFile(options.ca);
    return { client: await connect({ ...at, ca }), endpoint };
  }

  const known = await KnownHosts.open();
  const announced = target.announcedFingerprint;
  // First contact with a host found by mDNS: the announced fingerprint stands in for the
  // question. Once the host has a pin (on any port), the pins decide as for any other host.
  if (announced !== null && !hostHasPins(known, target.host)) {
    const trust = trustAnnounced(known, target.host, target.port, announced);
    const client = await connect({ ...at, ...trust });
    process.stderr.write(
      `Pinned the certificate of ${endpoint} (announced by mDNS, shown by TLS):\n`,
    );
    process.stderr.write(`  ${client.fingerprint}\n`);
    return { client, endpoint };
  }
  const trust = trustOnFirstUse(known, target.host, target.port, (fingerprint, key) => {
    const vouched = target.localFingerprint ?? pinnedForHost(known, target.host, fingerprint);
    return confirmFirstUse(fingerprint, key, vouched, options.acceptNew === true);
  });
  return { client: await connect({ ...at, ...trust }), endpoint };
}

function hostHasPins(known: KnownHosts, host: string): boolean {
  const name = host.toLowerCase();
  return known.entries().some((entry) => parseHostPort(entry.host).host === name);
}

/**
 * The same certificate already pinned for this host on another port: a daemon on `listen.port: 0`
 * gets a new port at each start but keeps its certificate, and that is no reason to ask again.
 */
function pinnedForHost(known: KnownHosts, host: string, fingerprint: string): string | null {
  const name = host.toLowerCase();
  const same = known.entries().some((entry) => {
    return (
      parseHostPort(entry.host).host === name && sameFingerprint(entry.fingerprint, fingerprint)
    );
  });
  return same ? fingerprint : null;
}

async function confirmFirstUse(
  fingerprint: string,
  key: string,
  vouched: string | null,
  acceptNew: boolean,
): Promise<boolean> {
  // A fingerprint from the local daemon's endpoint file (written by the daemon into a directory
  // only it can write) or already pinned for this host is as good as one read from the admin.
  if (vouched !== null) return sameFingerprint(vouched, fingerprint);

  process.stderr.write(`The daemon at ${key} presents a certificate with SHA-256 fingerprint\n`);
  process.stderr.write(`  ${fingerprint}\n`);
  if (acceptNew) {
    process.stderr.write('Trusting it (--accept-new) and remembering it for later connections.\n');
    return true;
  }
  if (!process.stdin.isTTY) {
    process.stderr.write('Not trusted: compare it with the daemon log, then use --accept-new.\n');
    return false;
  }

  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('Compare it with the daemon log. Trust it? [y/N] ');
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Connects and authenticates: a stored token if still valid, else a password. */
export async function openSession(options: ClientOptions): Promise<RpcClient> {
  const { client, endpoint } = await openConnection(options);
  const user = options.user ?? userInfo().username;
  const store = new SessionStore();

  try {
    const saved = await store.get(endpoint, user);
    if (saved !== null && (await resumed(client, saved.token))) return client;

    const password = await readPassword(user);
    const result = await client.call(Methods.login, { user, password });
    await store.put(endpoint, { user, token: result.token, expiresAt: result.expiresAt });
    return client;
  } catch (error) {
    await client.close();
    throw error;
  }
}

async function resumed(client: RpcClient, token: string): Promise<boolean> {
  try {
    await client.call(Methods.resume, { token });
    return true;
  } catch (error) {
    if (error instanceof RpcError && error.errorName === 'invalid_token') return false;
    throw error;
  }
}
