/**
 * Lines from a socket or a child process's stdout, taken one at a time by a test that waits with
 * a deadline. The source ending wakes a waiting taker, so that it fails at once, not at the end
 * of its deadline.
 */

/** What a taker reports when no line comes: the source ended, or the deadline passed. */
export interface NoLineErrors {
  readonly ended: string;
  readonly timeout: string;
}

/** A queue of received lines with one waiting taker at a time. */
export class LineQueue {
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;

  /**
   * @param ended whether the source is gone (checked only while no line is queued)
   * @param errors the messages of the two ways a wait fails
   */
  constructor(
    private readonly ended: () => boolean,
    private readonly errors: NoLineErrors,
  ) {}

  /** Queues a line and wakes the taker. */
  push(line: string): void {
    this.lines.push(line);
    this.wake();
  }

  /** Wakes the taker to look again; the source calls it when it ends. */
  wake(): void {
    this.waiter?.();
  }

  /** The next line; rejects if the source ends first or nothing comes within `timeoutMs`. */
  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended()) throw new Error(this.errors.ended);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(this.errors.timeout);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.lines.shift()!;
  }
}
