/**
 * One interface's mDNS responder, on bonjour-service's Server: it owns a multicast-dns socket
 * (UDP 5353, SO_REUSEADDR so avahi-daemon can share the port) and answers queries for the
 * records registered with it, additional records included. Announcing, updating and goodbyes
 * are done here, because bonjour-service's Registry cannot update a TXT record and its own
 * re-announcements would put the old one back (docs/discovery.md, "How a state change travels").
 * The deep imports of bonjour-service's dist/ are why package.json pins it to one exact version:
 * check them when upgrading it.
 */
import type { EventEmitter } from 'node:events';
import { Server } from 'bonjour-service/dist/lib/mdns-server.js';
import type { Logger } from '../log.js';
import type { AnnounceInterface } from './interfaces.js';
import { goodbyeRecords, type DnsRecord } from './records.js';

/** The multicast-dns instance inside bonjour-service's Server (which types it as any). */
export interface MulticastDns extends EventEmitter {
  respond(packet: { answers: DnsRecord[] }, done: (error?: Error | null) => void): void;
  query(packet: { questions: Array<{ name: string; type: string }> }, done: () => void): void;
  destroy(done: () => void): void;
}

/** A decoded mDNS packet, as far as a probe reads it. */
interface Packet {
  answers?: Array<{ name?: string }>;
  additionals?: Array<{ name?: string }>;
}

const MDNS_PORT = 5353;
const OPEN_TIMEOUT_MS = 3000;
// RFC 6762 section 8.1: three probes 250 ms apart, the first after a random 0-250 ms.
const PROBE_INTERVAL_MS = 250;
// Section 8.3: at least two announcements, one second apart; section 8.4 repeats that on change.
const REPEAT_MS = 1000;

/** A bound responder for one interface. */
export class InterfaceResponder {
  private readonly timers = new Set<NodeJS.Timeout>();
  private records: DnsRecord[] = [];
  private closed = false;

  private constructor(
    readonly iface: AnnounceInterface,
    private readonly server: Server,
    private readonly mdns: MulticastDns,
    private readonly logger: Logger,
  ) {}

  /** Binds UDP 5353 for the interface; rejects with the socket error (EADDRINUSE, EACCES). */
  static async open(iface: AnnounceInterface, logger: Logger): Promise<InterfaceResponder> {
    const log = logger.child({ interface: iface.name });
    const { server, mdns } = await openMdnsServer(iface, log);
    return new InterfaceResponder(iface, server, mdns, log);
  }

  /** Asks three times whether anyone answers for `name`; true means someone else has it. */
  async probe(name: string): Promise<boolean> {
    const wanted = name.toLowerCase();
    let conflict = false;
    const onResponse = (packet: Packet) => {
      const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
      if (records.some((r) => r.name?.toLowerCase() === wanted)) conflict = true;
    };

    this.mdns.on('response', onResponse);
    try {
      await this.sleep(Math.random() * PROBE_INTERVAL_MS);
      for (let i = 0; i < 3 && !conflict && !this.closed; i++) {
        this.mdns.query({ questions: [{ name, type: 'ANY' }] }, () => undefined);
        await this.sleep(PROBE_INTERVAL_MS);
      }
    } finally {
      this.mdns.removeListener('response', onResponse);
    }
    return conflict;
  }

  /** Registers the records (queries are answered from now on) and announces them twice. */
  announce(records: DnsRecord[]): Promise<void> {
    this.server.unregister(this.records);
    this.records = records;
    this.server.register(records);
    return this.sendTwice(records);
  }

  /** Replaces one record (the TXT) by name and type, and announces the new one twice. */
  replace(record: DnsRecord): Promise<void> {
    const same = (r: DnsRecord) => r.name === record.name && r.type === record.type;
    this.server.unregister(this.records.filter(same));
    this.records = [...this.records.filter((r) => !same(r)), record];
    this.server.register(record);
    return this.sendTwice([record]);
  }

  /** Withdraws every record with a goodbye and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;

    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.server.unregister(this.records);
    if (this.records.length > 0) await this.send(goodbyeRecords(this.records));
    await new Promise<void>((done) => this.mdns.destroy(done));
  }

  private async sendTwice(records: DnsRecord[]): Promise<void> {
    await this.send(records);
    // Not awaited: the repeat is for a lost packet, nobody needs to wait for it. It sends only
    // records still current: repeating a TXT replaced meanwhile would flush the new one from
    // every cache, the revert bonjour-service's own re-announcements cause.
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const current = records.filter((r) => this.records.includes(r));
      if (current.length > 0) void this.send(current);
    }, REPEAT_MS);
    timer.unref();
    this.timers.add(timer);
  }

  private send(answers: DnsRecord[]): Promise<void> {
    if (this.closed && answers.some((r) => r.ttl > 0)) return Promise.resolve();

    return new Promise((resolve) => {
      this.mdns.respond({ answers }, (error) => {
        if (error) this.logger.warn({ err: error }, 'mDNS announcement not sent');
        resolve();
      });
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** bonjour-service's Server on one interface, bound; for the responder and the browser. */
export async function openMdnsServer(
  iface: AnnounceInterface,
  log: Logger,
): Promise<{ server: Server; mdns: MulticastDns }> {
  // bonjour-service's default error callback throws, which would take the process down.
  const onSendError = (err: Error) => log.warn({ err }, 'mDNS answer not sent');
  const options = {
    port: MDNS_PORT,
    interface: iface.addresses[0],
    // Bound to the wildcard address: a socket bound to the interface address never sees the
    // multicast queries, which are addressed to 224.0.0.251.
    bind: '0.0.0.0',
    reuseAddr: true,
    loopback: true,
  };
  const server = new Server(options, onSendError);
  const mdns = server.mdns as MulticastDns;

  // One listener for the whole life of the socket: a failed bind is emitted twice (by the
  // socket and by the bind callback), and an 'error' nobody hears would throw.
  let failOpen: ((err: Error) => void) | null = null;
  mdns.on('error', (err: Error) =>
    failOpen ? failOpen(err) : log.warn({ err }, 'mDNS socket error'),
  );
  // Membership failures (an interface without multicast) arrive as warnings.
  mdns.on('warning', (err: Error) => log.debug({ err }, 'mDNS warning'));

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('UDP 5353 did not bind in time')),
        OPEN_TIMEOUT_MS,
      );
      failOpen = (err) => (clearTimeout(timer), reject(err));
      mdns.once('ready', () => (clearTimeout(timer), resolve()));
    });
  } catch (error) {
    await new Promise<void>((done) => mdns.destroy(done));
    throw error;
  } finally {
    failOpen = null;
  }
  return { server, mdns };
}
