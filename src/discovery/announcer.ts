/**
 * The seam between the daemon and an mDNS implementation: start, update, stop. The bonjour-service
 * backend (bonjour.ts) answers on UDP 5353 itself; a backend that asks avahi-daemon over D-Bus to
 * publish (for hosts where avahi owns the port) would implement the same three calls.
 */
import type { TxtRecord } from './txt.js';

/** One service instance to announce. */
export interface Announcement {
  /** Instance label, at most 63 bytes (names.ts). A backend may rename it on a conflict. */
  readonly instance: string;
  /** Host label; the service points at `HOST.local`. */
  readonly host: string;
  /** The TCP port the daemon really listens on. */
  readonly port: number;
  readonly txt: TxtRecord;
}

/** An mDNS backend. */
export interface Announcer {
  /**
   * Starts announcing. Resolves once the first announcement went out on the interfaces there
   * are, or could not and a retry is scheduled: network trouble is logged, never thrown.
   */
  start(announcement: Announcement): Promise<void>;
  /** Replaces the TXT record so that every browser, caches included, sees the new one. */
  update(txt: TxtRecord): Promise<void>;
  /** Sends goodbye packets so browsers drop the service at once, then lets go. Idempotent. */
  stop(): Promise<void>;
  /** The instance label in use, after any rename on a conflict; null before start. */
  readonly instance: string | null;
}
