/**
 * Finds sksd daemons on the local network: a bonjour-service Browser for `_sksd._tcp` on every
 * interface (a query leaves through one interface only, so each gets its own socket), asked
 * again while listening in case a packet was lost, and the results merged per service.
 */
import { Browser } from 'bonjour-service/dist/lib/browser.js';
import type { Logger } from '../log.js';
import { selectInterfaces } from './interfaces.js';
import { openMdnsServer } from './responder.js';
import { parseTxt, type ParsedTxt } from './txt.js';

/** One daemon as the network announces it. */
export interface DiscoveredService {
  /** The instance name: the daemon's friendly name, cut to 63 bytes. */
  readonly name: string;
  /** `NAME.local`, the SRV target. */
  readonly host: string;
  /** IPv4 addresses of the host; the answering address if it sent none. */
  readonly addresses: string[];
  readonly port: number;
  readonly txt: ParsedTxt;
  /** Interfaces it was seen on. */
  readonly interfaces: string[];
}

/** How to browse. */
export interface DiscoverOptions {
  readonly timeoutMs: number;
  /** Interface names or addresses; empty or missing: every non-loopback interface. */
  readonly interfaces?: readonly string[];
  /** Stop early once this holds for what was found so far. */
  readonly until?: (found: DiscoveredService[]) => boolean;
  readonly logger: Logger;
}

/** What bonjour-service's Browser reports, as far as it is read here. */
interface BrowsedService {
  name?: string;
  fqdn?: string;
  host?: string;
  port?: number;
  addresses?: string[];
  rawTxt?: Buffer[];
  referer?: { address?: string };
}

// Queries go out at these times (ms); RFC 6762 section 5.2 asks for growing intervals.
const QUERY_AT = [0, 1000, 3000, 7000];

/** Browses for `options.timeoutMs` (or until `until`), then returns every daemon seen. */
export async function discover(options: DiscoverOptions): Promise<DiscoveredService[]> {
  const selection = selectInterfaces(options.interfaces ?? [], '0.0.0.0');
  if (selection.kind === 'none')
    throw new Error('no network interface with an IPv4 address to browse on');

  const found = new Map<string, DiscoveredService>();
  const opened = await Promise.allSettled(
    selection.interfaces.map(async (iface) => ({
      iface,
      ...(await openMdnsServer(iface, options.logger)),
    })),
  );
  const sockets = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (sockets.length === 0) {
    const reason = opened.find((r) => r.status === 'rejected')?.reason as Error | undefined;
    throw new Error(`cannot listen on UDP 5353: ${reason?.message ?? 'no interface'}`);
  }

  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const timers = [setTimeout(finish, options.timeoutMs)];
  const browsers = sockets.map(({ iface, mdns }) => {
    const browser = new Browser(mdns, { type: 'sksd', protocol: 'tcp' });
    const seen = (service: BrowsedService) => {
      merge(found, service, iface.name);
      if (options.until?.([...found.values()])) finish();
    };
    browser.on('up', seen);
    browser.on('txt-update', seen);
    browser.on('srv-update', seen);
    // A goodbye while listening: the daemon is stopping, so it is not listed.
    browser.on('down', (service: BrowsedService) =>
      found.delete(service.fqdn?.toLowerCase() ?? ''),
    );
    for (const at of QUERY_AT.slice(1)) {
      if (at < options.timeoutMs) timers.push(setTimeout(() => browser.update(), at));
    }
    return browser;
  });

  await done;
  for (const timer of timers) clearTimeout(timer);
  for (const browser of browsers) browser.stop();
  await Promise.all(sockets.map(({ mdns }) => new Promise<void>((r) => mdns.destroy(r))));
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function merge(found: Map<string, DiscoveredService>, s: BrowsedService, iface: string): void {
  if (s.fqdn === undefined || s.name === undefined || s.host === undefined || s.port === undefined)
    return;

  const key = s.fqdn.toLowerCase();
  const own = (s.addresses ?? []).filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  const addresses = own.length > 0 ? own : s.referer?.address ? [s.referer.address] : [];
  const before = found.get(key);
  found.set(key, {
    name: s.name,
    host: s.host.replace(/\.$/, ''),
    addresses: [...new Set([...(before?.addresses ?? []), ...addresses])],
    port: s.port,
    txt: parseTxt(s.rawTxt ?? []),
    interfaces: [...new Set([...(before?.interfaces ?? []), iface])],
  });
}
