/**
 * A value that is published only after it has held for a while (a trailing debounce). The idle /
 * busy state goes through it: a request shorter than the settle time never shows as busy, and a
 * burst of requests with short gaps shows as one busy spell instead of a flapping TXT record.
 */

/** Publishes `set` values that hold for `settleMs`; a blip that returns in time is never seen. */
export class Settled<T> {
  private timer: NodeJS.Timeout | undefined;
  private pending: { value: T } | null = null;
  private published: T;

  constructor(
    initial: T,
    private readonly settleMs: number,
    private readonly onSettled: (value: T) => void,
  ) {
    this.published = initial;
  }

  /** The value last published. */
  get value(): T {
    return this.published;
  }

  /** Offers the raw value; it is published once it has not changed for settleMs. */
  set(next: T): void {
    if (this.pending !== null && this.pending.value === next) return;

    clearTimeout(this.timer);
    this.pending = null;
    if (next === this.published) return;

    if (this.settleMs === 0) return this.publish(next);
    this.pending = { value: next };
    this.timer = setTimeout(() => this.publish(next), this.settleMs);
    this.timer.unref();
  }

  /** Drops a pending change; nothing is published afterwards. */
  dispose(): void {
    clearTimeout(this.timer);
    this.pending = null;
  }

  private publish(value: T): void {
    this.pending = null;
    this.published = value;
    this.onSettled(value);
  }
}
