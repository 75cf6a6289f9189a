/**
 * One client connection: framing in, replies out, and the little state a connection has (open,
 * closing, closed; the user logged in on it, if any). It owns its socket's errors and timers, so
 * nothing a client does, resetting mid-message included, can throw out of here.
 */
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { createJSONRPCNotification, type JSONRPCID } from 'json-rpc-2.0';
import type { z } from 'zod';
import type { Logger } from '../log.js';
import { SksdError } from './errors.js';
import { encodeMessage, LineReader, type Frame } from './framing.js';
import type { CallContext, Dispatcher, NotificationSpec, Reply } from './dispatcher.js';
import { awaitedIds, errorResponse, parseLine } from './dispatcher.js';

/** A connection's life: closing means no new calls, replies still flushing. */
export type ConnectionState = 'open' | 'closing' | 'closed';

/** What the daemon sees of a connection (onConnection, connections()). */
export interface RpcConnection {
  readonly id: string;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly user: string | null;
  readonly state: ConnectionState;
  notify<P extends z.ZodType>(spec: NotificationSpec<P>, params: z.input<P>): void;
  /** Fails the calls still running with shutting_down, then ends the connection. */
  shutdown(): Promise<void>;
}

/** Limits a connection enforces, from the `rpc` config section (idleTimeout in seconds). */
export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  readonly idleTimeout: number;
}

/** Reading pauses beyond this many calls in flight, so one client cannot queue unbounded work. */
const MAX_IN_FLIGHT = 32;
/** After end(), how long a peer gets to close its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

interface Unit {
  readonly ids: JSONRPCID[];
  readonly batch: boolean;
  answered: boolean;
}

/** A server-side connection; created by the server once the TLS handshake is done. */
export class Connection implements RpcConnection {
  readonly id = randomBytes(4).toString('hex');
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Settles when the socket is closed, whatever the reason. */
  readonly closed: Promise<void>;
  private currentState: ConnectionState = 'open';
  private currentUser: string | null = null;
  private readonly pending = new Set<Unit>();
  private readonly reader: LineReader;
  private readonly logger: Logger;
  private forceClose: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: TLSSocket,
    private readonly dispatcher: Dispatcher,
    private readonly limits: ConnectionLimits,
    logger: Logger,
  ) {
    this.remoteAddress = unmapped(socket.remoteAddress);
    this.localAddress = unmapped(socket.localAddress);
    this.logger = logger.child({ conn: this.id });
    this.reader = new LineReader(limits.maxMessageBytes, (frame) => this.onFrame(frame));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));

    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('drain', () => this.updateFlow());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.logger.debug({ code: err.code ?? err.message }, 'socket error');
      socket.destroy();
    });
    socket.on('close', () => this.onClose());
    socket.on('timeout', () => this.onIdle());
    socket.setTimeout(limits.idleTimeout * 1000);
    this.logger.info({ remote: this.remoteAddress, local: this.localAddress }, 'connection open');
  }

  get user(): string | null {
    return this.currentUser;
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Server to client: a JSON-RPC notification (section 4.1, no id, no reply). */
  notify<P extends z.ZodType>(spec: NotificationSpec<P>, params: z.input<P>): void {
    if (this.currentState !== 'open') return;

    const checked = spec.params.safeParse(params);
    if (!checked.success) {
      this.logger.error({ notification: spec.name }, 'notification params do not match the spec');
      return;
    }
    this.send(createJSONRPCNotification(spec.name, checked.data));
  }

  async shutdown(): Promise<void> {
    for (const unit of this.pending) {
      if (unit.answered || unit.ids.length === 0) continue;

      unit.answered = true;
      const replies = unit.ids.map((id) => errorResponse(id, new SksdError('shutting_down')));
      this.send(unit.batch ? replies : replies[0]);
    }
    this.close('shutdown');
    await this.closed;
  }

  /** Ends the connection after flushing what was written; idempotent. */
  close(reason: string): void {
    if (this.currentState !== 'open') return;

    this.currentState = 'closing';
    this.logger.debug({ reason }, 'closing');
    this.reader.stop();
    this.socket.end();
    this.forceClose = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
  }

  private onFrame(frame: Frame): void {
    if (frame.kind === 'overflow') {
      const data = { maxMessageBytes: this.limits.maxMessageBytes };
      this.send(errorResponse(null, new SksdError('message_too_large', { data })));
      this.close('message too large');
      return;
    }
    if (frame.kind === 'invalid_utf8') {
      this.send(errorResponse(null, new SksdError('parse_error')));
      return;
    }
    this.dispatch(frame.text);
  }

  private dispatch(text: string): void {
    if (this.currentState !== 'open') return;

    const parsed = parseLine(text);
    if ('reply' in parsed) {
      this.send(parsed.reply);
      return;
    }

    const { message } = parsed;
    const unit: Unit = { ids: awaitedIds(message), batch: Array.isArray(message), answered: false };
    this.pending.add(unit);
    this.updateFlow();
    void this.dispatcher
      .handle(message, () => this.context())
      .then(
        (reply) => this.finish(unit, reply),
        (err: unknown) => {
          // Handlers' errors become replies inside the dispatcher; this is a bug in it.
          this.logger.error({ err }, 'dispatcher failed');
          this.finish(unit, null);
        },
      );
  }

  private finish(unit: Unit, reply: Reply): void {
    this.pending.delete(unit);
    this.updateFlow();
    // A timeout that fired during the call was skipped and is not re-armed by Node: restart it.
    if (this.pending.size === 0) this.socket.setTimeout(this.limits.idleTimeout * 1000);
    if (unit.answered || reply === null) return;

    unit.answered = true;
    this.send(reply);
  }

  private context(): CallContext | null {
    if (this.currentState !== 'open') return null;

    const user = this.currentUser;
    return {
      connectionId: this.id,
      remoteAddress: this.remoteAddress,
      localAddress: this.localAddress,
      user,
      requireUser: () => {
        if (user === null) throw new SksdError('not_logged_in');
        return user;
      },
      setUser: (name) => {
        this.currentUser = name;
      },
      clearUser: () => {
        this.currentUser = null;
      },
      notify: (spec, params) => this.notify(spec, params),
      logger: this.logger,
    };
  }

  private send(message: unknown): void {
    if (!this.socket.writable) return;

    this.socket.write(encodeMessage(message));
    this.updateFlow();
  }

  /** Stops reading while replies back up or too many calls run; TCP flow control does the rest. */
  private updateFlow(): void {
    if (this.socket.destroyed) return;

    const stalled = this.pending.size >= MAX_IN_FLIGHT || this.socket.writableNeedDrain;
    if (stalled && !this.socket.isPaused()) this.socket.pause();
    if (!stalled && this.socket.isPaused()) this.socket.resume();
  }

  private onIdle(): void {
    // A call that takes long (a kernel start) is not idleness; finish() re-arms the timer.
    if (this.pending.size > 0) return;

    this.logger.info({ idleTimeout: this.limits.idleTimeout }, 'idle; closing');
    this.close('idle');
  }

  private onClose(): void {
    clearTimeout(this.forceClose);
    this.currentState = 'closed';
    this.reader.stop();
    this.logger.info({ remote: this.remoteAddress, user: this.currentUser }, 'connection closed');
  }
}

/** `::ffff:192.0.2.1` is how a dual-stack socket shows an IPv4 peer; clients need the IPv4 form. */
function unmapped(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
