/**
 * Which daemon a client command talks to: HOST[:PORT] as typed, completed from the local daemon's
 * endpoint file when the host is this machine and no port was given.
 */
import { hostname } from 'node:os';
import { findLocalEndpoint, type Endpoint } from '../endpoint-file.js';

/** A daemon to connect to, and the fingerprint the local endpoint file vouches for, if any. */
export interface Target {
  host: string;
  port: number;
  localFingerprint: string | null;
}

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

/** Resolves a --host value to host, port and (for the local daemon) its fingerprint. */
export async function resolveTarget(text: string, findLocal = findLocalEndpoint): Promise<Target> {
  const { host, port } = parseHostPort(text);
  const local: Endpoint | null = isLocalHost(host) ? await findLocal() : null;

  if (port === null) {
    if (local === null) {
      throw new Error(
        `no port for ${host}: give HOST:PORT (the daemon logs its port at start)` +
          (isLocalHost(host) ? '; no running sksd was found on this machine' : ''),
      );
    }
    return { host, port: local.port, localFingerprint: local.fingerprint };
  }

  const sameDaemon = local !== null && local.port === port;
  return { host, port, localFingerprint: sameDaemon ? local.fingerprint : null };
}
