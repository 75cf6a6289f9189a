/**
 * The bonjour-service backend of Announcer: one responder per interface (a udp4 socket sends on
 * one interface only), a name claimed by probing before anything is announced (renamed to
 * "NAME (2)" on a conflict, RFC 6762 section 9), and a reconcile loop that opens responders for
 * interfaces that appear, closes those that vanish, and retries a failed bind or a missing
 * network with backoff. Nothing here throws at the daemon: trouble is logged and retried.
 */
import type { Logger } from '../log.js';
import type { Announcement, Announcer } from './announcer.js';
import { AVAHI_COEXISTENCE, runningAvahi } from './avahi.js';
import {
  sameInterface,
  selectInterfaces,
  type AnnounceInterface,
  type Selection,
} from './interfaces.js';
import { renamed } from './names.js';
import { serviceFqdn, serviceRecords, txtRecord } from './records.js';
import { InterfaceResponder } from './responder.js';
import type { TxtRecord } from './txt.js';

/** How the backend is set up. */
export interface BonjourOptions {
  /** mdns.interfaces: names or IPv4 addresses; empty means every non-loopback interface. */
  readonly interfaces: readonly string[];
  /** The listener's address: one address restricts the announcement to it. */
  readonly listenAddress: string;
  readonly logger: Logger;
  /** Picks interfaces; tests pass a fixed one. */
  readonly select?: () => Selection;
}

// Interfaces are looked at again this often when all is well, to pick up new ones.
const RESCAN_MS = 30_000;
// After a failure: 1, 2, 4 ... seconds, at most this.
const MAX_RETRY_MS = 30_000;
const MAX_RENAMES = 20;

/** Announces with bonjour-service's mDNS server; see the module comment. */
export class BonjourAnnouncer implements Announcer {
  private readonly responders = new Map<string, InterfaceResponder>();
  private readonly failures = new Map<string, string>();
  private announcement: Announcement | null = null;
  private claimed = false;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 1000;
  private lastNone: string | null = null;
  private stopped = false;

  constructor(private readonly options: BonjourOptions) {}

  get instance(): string | null {
    return this.announcement?.instance ?? null;
  }

  async start(announcement: Announcement): Promise<void> {
    this.announcement = announcement;
    const avahi = await runningAvahi();
    if (avahi !== null) this.options.logger.info({ avahiPid: avahi }, AVAHI_COEXISTENCE);
    await this.serialized(() => this.reconcile());
  }

  update(txt: TxtRecord): Promise<void> {
    return this.serialized(async () => {
      if (this.announcement === null || this.stopped) return;

      this.announcement = { ...this.announcement, txt };
      // Before the name is claimed nothing is out yet; the claim announces this TXT.
      if (!this.claimed) return;
      const record = txtRecord(this.announcement.instance, txt);
      await Promise.all([...this.responders.values()].map((r) => r.replace(record)));
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    return this.serialized(async () => {
      const all = [...this.responders.values()];
      this.responders.clear();
      await Promise.all(all.map((r) => r.close()));
    });
  }

  /** Runs one step at a time: a reconcile, an update and the stop never interleave. */
  private serialized(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue
      .then(step)
      .catch((err: unknown) => this.options.logger.error({ err }, 'mDNS step failed'));
    return this.queue;
  }

  /** Brings the responders in line with the interfaces there are now, then plans the next look. */
  private async reconcile(): Promise<void> {
    if (this.stopped || this.announcement === null) return;

    const selection = (this.options.select ?? this.defaultSelect)();
    const wanted = selection.kind === 'interfaces' ? selection.interfaces : [];
    if (selection.kind === 'none') this.noteNone(selection.reason);
    else this.lastNone = null;

    for (const [name, responder] of this.responders) {
      const now = wanted.find((i) => i.name === name);
      if (now !== undefined && sameInterface(now, responder.iface)) continue;

      this.responders.delete(name);
      await responder.close();
      this.options.logger.info({ interface: name }, 'stopped announcing on a changed interface');
    }

    const opened = await this.openMissing(wanted);
    await this.announceOn(opened);

    const permanent = selection.kind === 'none' && selection.reason !== 'no_interface';
    const healthy = selection.kind === 'interfaces' && this.failures.size === 0;
    if (!permanent) this.schedule(healthy);
  }

  private readonly defaultSelect = (): Selection =>
    selectInterfaces(this.options.interfaces, this.options.listenAddress);

  private async openMissing(wanted: readonly AnnounceInterface[]): Promise<InterfaceResponder[]> {
    const opened: InterfaceResponder[] = [];
    for (const name of this.failures.keys()) {
      if (!wanted.some((i) => i.name === name)) this.failures.delete(name);
    }
    for (const iface of wanted) {
      if (this.responders.has(iface.name)) continue;

      try {
        opened.push(await InterfaceResponder.open(iface, this.options.logger));
        this.failures.delete(iface.name);
      } catch (error) {
        this.noteFailure(iface, error);
      }
    }
    return opened;
  }

  private async announceOn(opened: InterfaceResponder[]): Promise<void> {
    if (opened.length === 0) return;

    if (!this.claimed) await this.claim(opened);
    const announcement = this.announcement;
    if (this.stopped || announcement === null) {
      await Promise.all(opened.map((r) => r.close()));
      return;
    }

    for (const r of opened) this.responders.set(r.iface.name, r);
    await Promise.all(
      opened.map((r) => r.announce(serviceRecords(announcement, r.iface.addresses))),
    );
    const { instance, host, port } = announcement;
    const interfaces = opened.map((r) => `${r.iface.name} ${r.iface.addresses.join(' ')}`);
    this.options.logger.info({ instance, host: `${host}.local`, port, interfaces }, 'announcing');
  }

  /** Probes the name on every opened interface; renames until nobody else answers for it. */
  private async claim(opened: InterfaceResponder[]): Promise<void> {
    const original = this.announcement!.instance;
    for (let attempt = 1; !this.stopped; attempt++) {
      const current = this.announcement!;
      const fqdn = serviceFqdn(current.instance);
      const conflicts = await Promise.all(opened.map((r) => r.probe(fqdn)));
      if (!conflicts.includes(true) || attempt > MAX_RENAMES) break;

      const next = renamed(original, attempt + 1);
      this.options.logger.warn(
        { taken: current.instance, instance: next },
        'mDNS name in use on the network; renamed',
      );
      this.announcement = { ...current, instance: next };
    }
    this.claimed = true;
  }

  private schedule(healthy: boolean): void {
    if (this.stopped) return;

    const delay = healthy ? RESCAN_MS : this.retryMs;
    this.retryMs = healthy ? 1000 : Math.min(this.retryMs * 2, MAX_RETRY_MS);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.serialized(() => this.reconcile()), delay);
    this.timer.unref();
  }

  /** Logs a bind failure once per interface and cause; repeats go to debug. */
  private noteFailure(iface: AnnounceInterface, error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const repeated = this.failures.get(iface.name) === code;
    this.failures.set(iface.name, code);
    const hint =
      code === 'EADDRINUSE' ? 'another program holds UDP 5353 without SO_REUSEADDR; ' : '';
    const fields = { interface: iface.name, address: iface.addresses[0], err: error };
    const message = `cannot announce on ${iface.name} (${code}): ${hint}retrying`;
    if (repeated) this.options.logger.debug(fields, message);
    else this.options.logger.warn(fields, message);
  }

  private noteNone(reason: string): void {
    if (this.lastNone === reason) return;

    this.lastNone = reason;
    const messages: Record<string, string> = {
      loopback_only: 'listening on loopback only: not announced on the network',
      ipv6_listener:
        'listening on one IPv6 address: mDNS announces IPv4 addresses only, so not announced',
      no_interface: 'no network interface to announce on (mdns.interfaces); retrying',
    };
    const level = reason === 'loopback_only' ? 'info' : 'warn';
    this.options.logger[level]({ interfaces: this.options.interfaces }, messages[reason] ?? reason);
  }
}
