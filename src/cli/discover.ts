/**
 * `sksd discover`: every sksd that answers on the local network within the timeout, with what
 * its announcement says and whether its certificate fingerprint is already pinned here.
 */
import type { DiscoveredService } from '../discovery/browser.js';
import { discover } from '../discovery/browser.js';
import { createLogger } from '../log.js';
import { KnownHosts } from '../rpc/trust.js';
import { sameFingerprint } from '../tls/fingerprint.js';
import { table } from './commands.js';

/** Whether the announced fingerprint matches what this user pinned for the host. */
export type PinStatus = 'yes' | 'no' | 'mismatch';

/** Options of `sksd discover`. */
export interface DiscoverCommandOptions {
  /** Seconds to listen, as typed. */
  timeout: string;
  json?: boolean;
}

/** Pin status of a service: a pin for its host name, or one of its addresses, on its port. */
export function pinStatus(known: KnownHosts, service: DiscoveredService): PinStatus {
  const pins = [service.host, ...service.addresses]
    .map((host) => known.get(host, service.port))
    .filter((pin): pin is string => pin !== undefined);
  if (pins.length === 0) return 'no';

  const announced = service.txt.fingerprint;
  return announced !== null && pins.every((pin) => sameFingerprint(pin, announced))
    ? 'yes'
    : 'mismatch';
}

/** Runs the command: a table for people, JSON with --json. */
export async function discoverCommand(options: DiscoverCommandOptions): Promise<void> {
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) {
    throw new Error(`--timeout takes seconds between 0 and 60, not ${options.timeout}`);
  }

  const services = await discover({
    timeoutMs: seconds * 1000,
    logger: createLogger('silent', false),
  });
  const known = await KnownHosts.open();
  const rows = services.map((s) => ({ ...s, pinned: pinStatus(known, s) }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows.map(toJson), null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stderr.write(`no sksd answered within ${seconds} s\n`);
    return;
  }

  const header = ['NAME', 'HOST', 'ADDRESSES', 'PORT', 'STATE', 'KERNELS', 'FINGERPRINT', 'PINNED'];
  const cells = rows.map((s) => [
    s.name,
    s.host,
    s.addresses.join(','),
    String(s.port),
    s.txt.state ?? '?',
    `${s.txt.kernels ?? '?'}/${s.txt.limit ?? '?'}`,
    // The first 8 bytes tell certificates apart at a glance; --json and `sksd info` give all 32.
    s.txt.fingerprint === null ? '-' : `${s.txt.fingerprint.slice(0, 23)}…`,
    s.pinned === 'mismatch' ? 'MISMATCH' : s.pinned,
  ]);
  process.stdout.write(`${table(header, cells)}\n`);
}

function toJson(s: DiscoveredService & { pinned: PinStatus }) {
  const { txt } = s;
  return {
    name: s.name,
    host: s.host,
    addresses: s.addresses,
    port: s.port,
    state: txt.state,
    kernels: txt.kernels,
    limit: txt.limit,
    protocol: txt.protocol,
    version: txt.version,
    fingerprint: txt.fingerprint,
    pinned: s.pinned,
  };
}
