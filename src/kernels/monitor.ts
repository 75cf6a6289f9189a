/**
 * Watches a kernel's IOPub channel: the kernel publishes `status` busy/idle around every request it
 * handles, from any client, and the output of the code it runs. That gives kernels.list its
 * busy/idle state and idle culling its measure of client activity. Messages are verified with the
 * kernel's key; requests the daemon makes itself (username DAEMON_USERNAME) are not activity.
 *
 * A SUB socket misses what is published before its subscription reaches the kernel ("slow joiner"),
 * so the first status after a start may be lost; every later request publishes a new one. ZeroMQ
 * reconnects by itself, so one monitor outlives a restart that keeps the ports.
 */
import { Subscriber } from 'zeromq';
import type { Logger } from '../log.js';
import type { ConnectionInfo } from '../rpc/methods.js';
import { DAEMON_USERNAME, deserialize } from './wire.js';

const LARGE_MESSAGE_BYTES = 64 * 1024;

/** What one IOPub message tells the daemon. */
export interface IopubEvent {
  /** The kernel's execution state, for `status` messages. */
  readonly executionState: 'busy' | 'idle' | 'starting' | null;
  /** Whether a client's request caused the message (not the daemon's, not the kernel's own). */
  readonly clientActivity: boolean;
}

/** A subscription to one kernel's IOPub channel; close() ends it. */
export class IopubMonitor {
  // A small queue bounds the daemon's memory when a kernel floods output; the kernel's PUB
  // socket drops for a slow subscriber rather than blocking, so the kernel never waits for us.
  private readonly socket = new Subscriber({ linger: 0, receiveHighWaterMark: 100 });
  private closed = false;

  constructor(
    private readonly connection: ConnectionInfo,
    private readonly onEvent: (event: IopubEvent) => void,
    private readonly logger: Logger,
  ) {}

  /** Connects and starts reading; returns at once. */
  start(): void {
    this.socket.connect(`tcp://${this.connection.ip}:${this.connection.iopub_port}`);
    this.socket.subscribe();
    this.read().catch((err: unknown) => {
      if (!this.closed) this.logger.warn({ err }, 'IOPub monitor stopped');
    });
  }

  /** Stops reading and closes the socket; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private async read(): Promise<void> {
    for await (const frames of this.socket) {
      if (this.closed) return;

      // Large messages are output (plots, arrays): activity, and not worth an HMAC over megabytes.
      // Only the kernel can publish on its IOPub port, so skipping the check forges nothing.
      const size = frames.reduce((sum, frame) => sum + frame.length, 0);
      if (size > LARGE_MESSAGE_BYTES) {
        this.onEvent({ executionState: null, clientActivity: true });
        continue;
      }
      const message = deserialize(frames, this.connection.key);
      if (message === null) continue;

      const parent = message.parent_header;
      const state = message.header.msg_type === 'status' ? message.content.execution_state : null;
      this.onEvent({
        executionState: state === 'busy' || state === 'idle' || state === 'starting' ? state : null,
        clientActivity: parent.msg_id !== undefined && parent.username !== DAEMON_USERNAME,
      });
    }
  }
}
