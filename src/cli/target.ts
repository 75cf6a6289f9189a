/**
 * Which daemon a client command talks to: HOST[:PORT] as typed, completed from the local daemon's
 * endpoint file when the host is this machine and no port was given, or found by mDNS when the
 * text is a daemon's friendly name or host name (docs/discovery.md).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { DiscoveredService } from '../discovery/browser.js';
import { lookupService } from '../discovery/lookup.js';
import { findLocalEndpoint, type Endpoint } from '../endpoint-file.js';
import { createLogger } from '../log.js';

/** A daemon to connect to, and the fingerprint the local endpoint file vouches for, if any. */
export interface Target {
  /** The daemon's name for pins and sessions: as typed, or `NAME.local` when found by mDNS. */
  host: string;
  port: number;
  /** Where the connection goes: `host`, or the address the mDNS answer gave. */
  connectHost: string;
  localFingerprint: string | null;
  /** The fingerprint the mDNS TXT record named, for a daemon found that way. */
  announcedFingerprint: string | null;
}

/** Finds a daemon by name on the local network; null when none answers. */
export type ServiceLookup = (
  name: string,
  port: number | null,
) => Promise<DiscoveredService | null>;

const LOOKUP_TIMEOUT_MS = 3000;

const mdnsLookup: ServiceLookup = (name, port) =>
  lookupService(name, port, {
    timeoutMs: LOOKUP_TIMEOUT_MS,
    logger: createLogger('silent', false),
  });

const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', '127.0.0.1', '::1']);

/** Splits HOST[:PORT]; an IPv6 address goes in brackets: [::1]:7000. */
export function parseHostPort(text: string): { host: string; port: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: toPort(bracketed[2]) };

  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = text.split(':');
    return { host: host!, port: toPort(port) };
  }
  return { host: text, port: null };
}

function toPort(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${text}`);
  return port;
}

/** True for names that mean this machine. */
export function isLocalHost(host: string): boolean {
  const name = host.toLowerCase();
  return LOCAL_NAMES.has(name) || name === hostname().toLowerCase() || /^127\./.test(name);
}

/**
 * Resolves a --host value to host, port and (for the local daemon) its fingerprint. A name that
 * is neither this machine nor a resolvable HOST:PORT is looked up with mDNS: a friendly name or
 * host name that `sksd discover` lists works wherever --host is taken.
 */
export async function resolveTarget(
  text: string,
  findLocal = findLocalEndpoint,
  lookup: ServiceLookup = mdnsLookup,
): Promise<Target> {
  // A friendly name may hold a colon ("Lab: GPU box"); only digits after it make a port.
  const { host, port } = /:\d*$|^\[/.test(text) ? parseHostPort(text) : { host: text, port: null };
  const direct = (p: number, localFingerprint: string | null = null): Target => ({
    host,
    port: p,
    connectHost: host,
    localFingerprint,
    announcedFingerprint: null,
  });

  if (isLocalHost(host)) {
    const local: Endpoint | null = await findLocal();
    if (port === null) {
      if (local === null) {
        throw new Error(`no port for ${host}: no running sksd was found on this machine`);
      }
      return direct(local.port, local.fingerprint);
    }
    return direct(port, local !== null && local.port === port ? local.fingerprint : null);
  }

  // HOST:PORT that DNS knows needs no discovery, and costs no wait for one.
  if (port !== null && (isIP(host) !== 0 || (await resolves(host)))) return direct(port);

  const found = await lookup(host, port);
  if (found !== null) {
    return {
      host: found.host,
      port: found.port,
      connectHost: found.addresses[0] ?? found.host,
      localFingerprint: null,
      announcedFingerprint: found.txt.fingerprint,
    };
  }
  if (port !== null) return direct(port);
  throw new Error(
    `no sksd named ${host} answered on the local network (mDNS): ` +
      'check `sksd discover`, or give HOST:PORT (the daemon logs its port at start)',
  );
}

async function resolves(host: string): Promise<boolean> {
  try {
    await dnsLookup(host);
    return true;
  } catch {
    return false;
  }
}
