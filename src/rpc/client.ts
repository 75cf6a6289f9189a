/**
 * The typed client used by the CLI (and tests): one TLS connection, calls named by their
 * MethodSpec, results checked against the result schema, wire errors as RpcError. The daemon is
 * trusted as SSH trusts a host: by a CA, or by a pinned SHA-256 fingerprint checked before
 * anything is sent.
 */
import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import {
  JSONRPCClient,
  JSONRPCErrorException,
  isJSONRPCResponse,
  type JSONRPCResponse,
} from 'json-rpc-2.0';
import type { z } from 'zod';
import type { Logger } from '../log.js';
import { sameFingerprint } from '../tls/fingerprint.js';
import { errorNameOf, type ErrorData, type ErrorName } from './errors.js';
import { encodeMessage, LineReader, type Frame } from './framing.js';
import type { MethodSpec } from './methods.js';
import type { NotificationSpec } from './dispatcher.js';

/** How to reach the daemon and how to trust it: `ca`, `pinnedFingerprint`, or `onFirstUse`. */
export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** PEM CA certificate(s): normal verification, host name included. */
  readonly ca?: string | Buffer;
  /** Expected SHA-256 fingerprint of the daemon's certificate (any case, colons optional). */
  readonly pinnedFingerprint?: string;
  /** No pin yet: asked with the presented fingerprint; true trusts it (and should store it). */
  readonly onFirstUse?: (fingerprint: string) => boolean | Promise<boolean>;
  /** Where the pin came from, named in a mismatch error, e.g. the known-hosts file. */
  readonly pinSource?: string;
  readonly timeoutMs?: number;
  readonly maxMessageBytes?: number;
  readonly logger?: Logger;
}

/** An error the daemon answered with; branch on `code` or `errorName`, never on the text. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly errorName: ErrorName | undefined;

  constructor(
    readonly code: number,
    message: string,
    readonly data: ErrorData | undefined,
  ) {
    super(message);
    this.errorName = errorNameOf(code);
  }
}

/** The connection failed or ended: TLS, trust, timeout, closed, or a reply against protocol. */
export class RpcConnectionError extends Error {
  override readonly name: string = 'RpcConnectionError';

  constructor(
    readonly reason: 'tls' | 'untrusted' | 'timeout' | 'closed' | 'protocol',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The daemon presented another certificate than the pinned one. Never retried silently. */
export class FingerprintMismatchError extends RpcConnectionError {
  override readonly name = 'FingerprintMismatchError';

  constructor(
    readonly address: string,
    readonly expected: string,
    readonly presented: string,
    pinSource = 'the pinned fingerprint',
  ) {
    super(
      'untrusted',
      `The certificate of ${address} does not match ${pinSource}!\n` +
        `  expected:  ${expected}\n  presented: ${presented}\n` +
        'Someone may be intercepting the connection, or the daemon got a new certificate. ' +
        'Refusing to connect; if the change is expected, remove the old entry and connect again.',
    );
  }
}

type AnySpec = MethodSpec<z.ZodType, z.ZodType>;
type In<S extends AnySpec> = z.input<S['params']>;
/** The params argument: optional when the method's params schema accepts undefined. */
type ParamsArg<S extends AnySpec> = undefined extends In<S> ? [params?: In<S>] : [params: In<S>];

const CONNECT_TIMEOUT_MS = 10_000;
const CLIENT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Opens a TLS connection and checks the daemon's certificate before returning the client. */
export async function connect(options: ConnectOptions): Promise<RpcClient> {
  const { host, port, ca } = options;
  const address = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  if (ca === undefined && options.pinnedFingerprint === undefined && !options.onFirstUse) {
    throw new RpcConnectionError('untrusted', `no CA, pin or first-use check to trust ${address}`);
  }

  // Without a CA, OpenSSL's verdict is ignored and the fingerprint check is the whole check.
  const socket = tlsConnect({
    host,
    port,
    ca,
    rejectUnauthorized: ca !== undefined,
    servername: isIP(host) === 0 ? host : undefined,
    minVersion: 'TLSv1.2',
  });
  // Until RpcClient takes over, a socket error is kept here instead of crashing as unhandled.
  let failure: Error | undefined;
  socket.on('error', (err) => (failure ??= err));

  try {
    await handshake(socket, address, options.timeoutMs ?? CONNECT_TIMEOUT_MS);
    const presented = socket.getPeerCertificate().fingerprint256;
    await checkTrust(options, address, presented);
    // A first-use prompt can take a while; the daemon may have given up meanwhile.
    if (failure !== undefined || !socket.writable) {
      const message = `${address} closed the connection`;
      throw new RpcConnectionError('closed', message, { cause: failure });
    }
    return new RpcClient(socket, presented, options);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

async function checkTrust(options: ConnectOptions, address: string, presented: string) {
  const { pinnedFingerprint: pinned, onFirstUse } = options;
  if (pinned !== undefined) {
    if (sameFingerprint(pinned, presented)) return;
    throw new FingerprintMismatchError(address, pinned, presented, options.pinSource);
  }
  if (options.ca !== undefined) return; // OpenSSL checked the chain and the name

  if (onFirstUse !== undefined && (await onFirstUse(presented))) return;
  throw new RpcConnectionError('untrusted', `the certificate of ${address} was not accepted`);
}

function handshake(socket: TLSSocket, address: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const message = `no TLS handshake with ${address} in ${timeoutMs} ms`;
      reject(new RpcConnectionError('timeout', message));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (cause: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const detail = cause.code ?? cause.message;
      reject(new RpcConnectionError('tls', `cannot connect to ${address}: ${detail}`, { cause }));
    });
  });
}

/** A connected client. Calls may run concurrently; close() ends the connection. */
export class RpcClient {
  private readonly rpc: JSONRPCClient;
  private readonly reader: LineReader;
  private readonly listeners = new Map<string, Set<(params: unknown) => void>>();
  private closeError: Error | undefined;
  private serverError: RpcError | undefined;
  private rejectClosed: (error: Error) => void = () => undefined;
  private readonly whenClosed: Promise<never>;
  /** Settles when the socket has closed. */
  readonly closed: Promise<void>;

  /** Use connect(); the socket must have passed the trust check. */
  constructor(
    private readonly socket: TLSSocket,
    /** SHA-256 fingerprint of the daemon's certificate, as checked. */
    readonly fingerprint: string,
    private readonly options: ConnectOptions,
  ) {
    this.rpc = new JSONRPCClient((payload) => {
      socket.write(encodeMessage(payload));
    });
    this.whenClosed = new Promise<never>((_, reject) => (this.rejectClosed = reject));
    this.whenClosed.catch(() => undefined); // observed through call(); no unhandled rejection
    const max = options.maxMessageBytes ?? CLIENT_MAX_MESSAGE_BYTES;
    this.reader = new LineReader(max, (frame) => this.onFrame(frame));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));

    socket.on('error', (cause) => {
      this.fail(new RpcConnectionError('closed', cause.message, { cause }));
    });
    socket.on('close', () => {
      this.fail(this.serverError ?? new RpcConnectionError('closed', 'the connection was closed'));
    });
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
  }

  /** Calls a method; resolves with its result as the result schema parsed it. */
  async call<S extends AnySpec>(spec: S, ...args: ParamsArg<S>): Promise<z.output<S['result']>> {
    if (this.closeError !== undefined) throw this.closeError;

    let result: unknown;
    try {
      const request = this.rpc.request(spec.name, args[0], undefined);
      result = await Promise.race([request, this.whenClosed]);
    } catch (error) {
      if (!(error instanceof JSONRPCErrorException)) throw error;
      throw new RpcError(error.code, error.message, error.data as ErrorData | undefined);
    }

    const checked = spec.result.safeParse(result);
    if (!checked.success) {
      throw new RpcConnectionError('protocol', `the result of ${spec.name} breaks the protocol`);
    }
    return checked.data as z.output<S['result']>;
  }

  /** Subscribes to a server notification; returns the unsubscribe function. */
  onNotification<P extends z.ZodType>(
    spec: NotificationSpec<P>,
    listener: (params: z.output<P>) => void,
  ): () => void {
    const set = this.listeners.get(spec.name) ?? new Set();
    const wrapped = (params: unknown): void => {
      const checked = spec.params.safeParse(params);
      if (checked.success) listener(checked.data);
      else this.options.logger?.warn({ notification: spec.name }, 'notification params are wrong');
    };
    set.add(wrapped);
    this.listeners.set(spec.name, set);
    return () => void set.delete(wrapped);
  }

  /** Ends the connection; calls still running fail with RpcConnectionError('closed'). */
  async close(): Promise<void> {
    this.fail(new RpcConnectionError('closed', 'connection closed by the client'));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await this.closed;
    clearTimeout(timer);
  }

  private onFrame(frame: Frame): void {
    if (frame.kind !== 'message') {
      this.fail(new RpcConnectionError('protocol', `bad frame from the daemon: ${frame.kind}`));
      this.socket.destroy();
      return;
    }

    let message: unknown;
    try {
      message = JSON.parse(frame.text);
    } catch {
      this.options.logger?.warn('the daemon sent a line that is not JSON');
      return;
    }
    this.receive(message);
  }

  private receive(message: unknown): void {
    const items: unknown[] = Array.isArray(message) ? message : [message];
    for (const item of items) {
      if (typeof item !== 'object' || item === null) continue;

      const m = item as { method?: unknown; params?: unknown; id?: unknown };
      if (typeof m.method === 'string' && m.id === undefined) {
        this.deliver(m.method, m.params);
      } else if (isJSONRPCResponse(item)) {
        this.response(item);
      }
    }
  }

  private response(response: JSONRPCResponse): void {
    // Section 5: id null means the daemon could not tell which request failed (framing, parsing);
    // it usually closes right after, and that error then explains the closed connection.
    if (response.id === null && response.error !== undefined) {
      const { code, message, data } = response.error;
      this.serverError = new RpcError(code, message, data as ErrorData | undefined);
      return;
    }
    this.rpc.receive(response);
  }

  private deliver(method: string, params: unknown): void {
    for (const listener of this.listeners.get(method) ?? []) {
      try {
        listener(params);
      } catch (err) {
        this.options.logger?.error({ err, notification: method }, 'notification listener failed');
      }
    }
  }

  private fail(error: Error): void {
    if (this.closeError !== undefined) return;

    this.closeError = error;
    this.reader.stop();
    this.rejectClosed(error);
    this.rpc.rejectAllPendingRequests(error.message);
  }
}
