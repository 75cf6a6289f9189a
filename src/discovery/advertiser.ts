/**
 * What the daemon announces and when: the friendly name, the port it really listens on, the
 * certificate fingerprint, and TXT facts that follow the daemon's life. The idle/busy state is
 * settled first (settle.ts); a kernel count change goes out as it happens; either way at most one
 * TXT update per second leaves, as RFC 6762 section 6 asks of a record on the wire.
 */
import type { EventEmitter } from 'node:events';
import type { Config } from '../config/schema.js';
import type { Activity, ActivityTracker } from '../daemon/activity.js';
import type { KernelEvent } from '../kernels/kernel.js';
import type { Logger } from '../log.js';
import { PROTOCOL_VERSION } from '../rpc/methods.js';
import { VERSION } from '../version.js';
import type { Announcer } from './announcer.js';
import { BonjourAnnouncer } from './bonjour.js';
import { hostLabel, instanceLabel } from './names.js';
import { Settled } from './settle.js';
import { buildTxt, type TxtRecord } from './txt.js';

/** What the advertiser watches and announces. */
export interface AdvertiserOptions {
  readonly config: Config['mdns'];
  /** Friendly name (settings.name) and system host name (settings.host). */
  readonly name: string;
  readonly host: string;
  readonly fingerprint: string;
  /** kernels.total, announced as `limit`. */
  readonly limit: number;
  readonly activity: ActivityTracker;
  readonly kernels: EventEmitter<{ state: [KernelEvent] }>;
  readonly logger: Logger;
  /** The backend; by default bonjour-service on mdns.interfaces. */
  readonly announcer?: (listenAddress: string) => Announcer;
}

const MIN_UPDATE_MS = 1000;
const STARTING = new Set(['starting', 'restarting']);

/**
 * Announces the daemon while it runs. Listens to activity and kernel events from construction
 * on, so that kernels adopted before the listener opens are counted; announces from start().
 */
export class Advertiser {
  private readonly kernelStates = new Map<string, string>();
  private readonly state: Settled<Activity>;
  private announcer: Announcer | null = null;
  private sent: TxtRecord | null = null;
  private lastUpdate = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: AdvertiserOptions) {
    this.state = new Settled<Activity>('idle', options.config.debounce * 1000, () =>
      this.refresh(),
    );
    options.activity.on('change', this.onActivity);
    options.kernels.on('state', this.onKernel);
  }

  /** Starts announcing the listener; resolves after the first announcement (or its retry plan). */
  async start(listen: { address: string; port: number }): Promise<void> {
    const { config, logger } = this.options;
    if (!config.enabled || this.stopped) return;

    const make =
      this.options.announcer ??
      ((address: string) =>
        new BonjourAnnouncer({ interfaces: config.interfaces, listenAddress: address, logger }));
    this.announcer = make(listen.address);
    this.sent = this.txt();
    this.lastUpdate = Date.now();
    const instance = instanceLabel(this.options.name, this.options.host);
    await this.announcer.start({
      instance,
      host: hostLabel(this.options.host),
      port: listen.port,
      txt: this.sent,
    });
  }

  /** Withdraws the announcement (goodbye packets) and stops listening to events. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;

    this.stopped = true;
    this.options.activity.off('change', this.onActivity);
    this.options.kernels.off('state', this.onKernel);
    this.state.dispose();
    clearTimeout(this.timer);
    await this.announcer?.stop();
  }

  private readonly onActivity = (): void => this.state.set(this.rawState());

  private readonly onKernel = (event: KernelEvent): void => {
    const before = this.kernelCount();
    if (event.state === 'dead') this.kernelStates.delete(event.id);
    else this.kernelStates.set(event.id, event.state);

    // A starting kernel makes the daemon busy (the seed's definition) but is not counted yet;
    // a count change goes out as it happens, busy and idle after settling.
    this.state.set(this.rawState());
    if (this.kernelCount() !== before) this.refresh();
  };

  /** Kernels past starting and not dead: the `kernels` TXT value. */
  private kernelCount(): number {
    return [...this.kernelStates.values()].filter((s) => s !== 'starting').length;
  }

  /** Busy while a request is served or a kernel is starting or restarting. */
  private rawState(): Activity {
    if (this.options.activity.state === 'busy') return 'busy';
    return [...this.kernelStates.values()].some((s) => STARTING.has(s)) ? 'busy' : 'idle';
  }

  private txt(): TxtRecord {
    return buildTxt({
      protocol: PROTOCOL_VERSION,
      version: VERSION,
      state: this.state.value,
      kernels: this.kernelCount(),
      limit: this.options.limit,
      fingerprint: this.options.fingerprint,
    });
  }

  /** Sends the TXT if it changed, at most once per MIN_UPDATE_MS. */
  private refresh(): void {
    if (this.stopped || this.announcer === null || this.timer !== undefined) return;

    const wait = this.lastUpdate + MIN_UPDATE_MS - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.refresh();
      }, wait);
      this.timer.unref();
      return;
    }

    const txt = this.txt();
    if (this.sent !== null && JSON.stringify(txt) === JSON.stringify(this.sent)) return;
    this.sent = txt;
    this.lastUpdate = Date.now();
    const { state, kernels } = txt;
    this.options.logger.debug({ state, kernels }, 'announcing a new state');
    this.announcer
      .update(txt)
      .catch((err: unknown) => this.options.logger.error({ err }, 'TXT update failed'));
  }
}
