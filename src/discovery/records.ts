/**
 * The DNS-SD records of one announcement on one interface (RFC 6763 sections 4 to 6, RFC 6762).
 * Built here rather than by bonjour-service's Service so that each interface carries only its own
 * addresses and the unique records carry the cache-flush bit, which makes a changed TXT replace
 * the old one in every cache instead of sitting next to it (RFC 6762 section 10.2).
 */
import type { Announcement } from './announcer.js';
import { SERVICE_TYPE, type TxtRecord } from './txt.js';

/** A resource record as the DNS encoder (dns-packet) takes it. */
export interface DnsRecord {
  readonly name: string;
  readonly type: 'PTR' | 'SRV' | 'TXT' | 'A';
  readonly ttl: number;
  readonly flush?: boolean;
  readonly data: string | Buffer[] | { port: number; target: string };
}

// RFC 6762 section 10: 120 s for records naming a host (SRV, A), 75 minutes for the others.
const HOST_TTL = 120;
const OTHER_TTL = 4500;

const DOMAIN = 'local';

/** `_sksd._tcp.local` */
export const SERVICE_NAME = `${SERVICE_TYPE}.${DOMAIN}`;

/** `INSTANCE._sksd._tcp.local` */
export function serviceFqdn(instance: string): string {
  return `${instance}.${SERVICE_NAME}`;
}

/** `HOST.local` */
export function hostFqdn(host: string): string {
  return `${host}.${DOMAIN}`;
}

/** The TXT record alone, as sent on an update. */
export function txtRecord(instance: string, txt: TxtRecord): DnsRecord {
  const data = Object.entries(txt).map(([key, value]) => Buffer.from(`${key}=${value}`));
  return { name: serviceFqdn(instance), type: 'TXT', ttl: OTHER_TTL, flush: true, data };
}

/** Every record of the announcement, with `addresses` as the host's A records. */
export function serviceRecords(a: Announcement, addresses: readonly string[]): DnsRecord[] {
  const fqdn = serviceFqdn(a.instance);
  const target = hostFqdn(a.host);
  return [
    { name: SERVICE_NAME, type: 'PTR', ttl: OTHER_TTL, data: fqdn },
    // Lets generic browsers (avahi-browse -a) list the type (RFC 6763 section 9).
    { name: `_services._dns-sd._udp.${DOMAIN}`, type: 'PTR', ttl: OTHER_TTL, data: SERVICE_NAME },
    { name: fqdn, type: 'SRV', ttl: HOST_TTL, flush: true, data: { port: a.port, target } },
    txtRecord(a.instance, a.txt),
    ...addresses.map((address): DnsRecord => ({
      name: target,
      type: 'A',
      ttl: HOST_TTL,
      flush: true,
      data: address,
    })),
  ];
}

/** The same records with TTL 0: a goodbye (RFC 6762 section 10.1). */
export function goodbyeRecords(records: readonly DnsRecord[]): DnsRecord[] {
  return records.map((record) => ({ ...record, ttl: 0 }));
}
