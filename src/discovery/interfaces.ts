/**
 * Which interfaces to announce on, and which addresses each one announces. Every interface gets
 * only its own addresses: a client on one network that is handed the address of another picks
 * an unreachable one (homebridge#2098; RFC 6762 section 15.2 asks the same of responders).
 */
import { isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** One interface to answer on: its name and the IPv4 addresses it announces. */
export interface AnnounceInterface {
  readonly name: string;
  /** Non-empty; the first is the one multicast is sent and joined on. */
  readonly addresses: readonly string[];
}

/** The interfaces, or why there are none. */
export type Selection =
  | { readonly kind: 'interfaces'; readonly interfaces: AnnounceInterface[] }
  | { readonly kind: 'none'; readonly reason: 'loopback_only' | 'ipv6_listener' | 'no_interface' };

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * Picks interfaces. `wanted` holds names or IPv4 addresses (empty: every non-loopback interface
 * with an IPv4 address). A listener bound to one address restricts the choice to that address.
 */
export function selectInterfaces(
  wanted: readonly string[],
  listenAddress: string,
  all: Interfaces = networkInterfaces(),
): Selection {
  if (isLoopback(listenAddress)) return { kind: 'none', reason: 'loopback_only' };
  const anyAddress = listenAddress === '0.0.0.0' || listenAddress === '::';
  // Announcements are IPv4 only (one udp4 socket per interface); an IPv6-only listener would be
  // announced with addresses it does not listen on.
  if (!anyAddress && !isIPv4(listenAddress)) return { kind: 'none', reason: 'ipv6_listener' };

  const interfaces: AnnounceInterface[] = [];
  for (const [name, infos = []] of Object.entries(all)) {
    const v4 = infos.filter((i) => i.family === 'IPv4' && !i.internal).map((i) => i.address);
    const chosen = v4.filter(
      (address) =>
        (wanted.length === 0 || wanted.includes(name) || wanted.includes(address)) &&
        (anyAddress || address === listenAddress),
    );
    // A name listed explicitly brings every address of its interface; an address only itself.
    if (chosen.length > 0) interfaces.push({ name, addresses: chosen });
  }
  return interfaces.length > 0
    ? { kind: 'interfaces', interfaces }
    : { kind: 'none', reason: 'no_interface' };
}

/** Same interfaces with the same addresses. */
export function sameInterface(a: AnnounceInterface, b: AnnounceInterface): boolean {
  return a.name === b.name && a.addresses.join(',') === b.addresses.join(',');
}

function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || address === 'localhost';
}
