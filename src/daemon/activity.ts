/**
 * Whether the daemon is busy: requests in flight or kernels starting. sksd.info reports it now;
 * the mDNS announcement (issue #4) will debounce it before publishing.
 */
import { EventEmitter } from 'node:events';

/** Idle or busy, as clients see it. */
export type Activity = 'idle' | 'busy';

/** Counts units of work in progress; emits 'change' when the daemon turns busy or idle. */
export class ActivityTracker extends EventEmitter<{ change: [Activity] }> {
  private inFlight = 0;

  get state(): Activity {
    return this.inFlight > 0 ? 'busy' : 'idle';
  }

  /** Runs `work` counted as busy, whatever its outcome. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.adjust(+1);
    try {
      return await work();
    } finally {
      this.adjust(-1);
    }
  }

  private adjust(delta: number): void {
    const before = this.state;
    this.inFlight += delta;
    if (this.state !== before) this.emit('change', this.state);
  }
}
