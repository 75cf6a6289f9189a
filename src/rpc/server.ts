/**
 * The daemon's JSON-RPC 2.0 server over TLS: accepts connections up to rpc.maxConnections, gives
 * each a Connection, and shuts down in one idempotent step that fails the calls still running.
 */
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { hardenSocket } from '../tls/server-options.js';
import { Connection, type RpcConnection } from './connection.js';
import { Dispatcher, type Handlers } from './dispatcher.js';

export type { CallContext, Handler, Handlers, NotificationSpec, Notify } from './dispatcher.js';
export type { ConnectionState, RpcConnection } from './connection.js';

/** What createRpcServer needs: TLS options (tlsServerOptions), limits, logger and handlers. */
export interface RpcServerOptions {
  readonly tls: TlsOptions;
  readonly limits: Config['rpc'];
  readonly logger: Logger;
  readonly handlers: Handlers;
  /** Called once per connection after the handshake; exceptions are logged, not thrown. */
  readonly onConnection?: (connection: RpcConnection) => void;
  /** Called once when a connection's socket has closed. */
  readonly onDisconnect?: (connection: RpcConnection) => void;
}

/** A listening (or ready to listen) RPC server. */
export interface RpcServer {
  /** Starts listening; port 0 picks a free port. Resolves with the bound address. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** The bound address, or null before listen. */
  address(): AddressInfo | null;
  /** The connections open now. */
  connections(): RpcConnection[];
  /** Stops accepting, fails running calls with shutting_down, closes every connection. */
  close(): Promise<void>;
}

/** Creates the server; nothing listens until listen(). */
export function createRpcServer(options: RpcServerOptions): RpcServer {
  const { limits, handlers } = options;
  const logger = options.logger.child({ component: 'rpc' });
  const dispatcher = new Dispatcher(handlers, limits.maxBatch);
  const open = new Set<Connection>();
  const sockets = new Set<Socket>();
  let closing: Promise<void> | undefined;

  const server = createServer(options.tls);
  // net.Server drops connections beyond this before any TLS work is done for them.
  server.maxConnections = limits.maxConnections;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('drop', (peer) => {
    logger.warn({ remote: peer?.remoteAddress }, 'connection refused: maxConnections reached');
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const code = err.code ?? err.message;
    logger.debug({ remote: socket.remoteAddress, code }, 'TLS handshake failed');
  });
  server.on('error', (err) => logger.error({ err }, 'server error'));

  server.on('secureConnection', (socket: TLSSocket) => {
    hardenSocket(socket);
    if (closing !== undefined) {
      socket.destroy();
      return;
    }

    const connection = new Connection(socket, dispatcher, limits, logger);
    open.add(connection);
    void connection.closed.then(() => {
      open.delete(connection);
      callHook(logger, 'onDisconnect', () => options.onDisconnect?.(connection));
    });
    callHook(logger, 'onConnection', () => options.onConnection?.(connection));
  });

  return {
    listen: (port, host) => listen(server, port, host),
    address: () => {
      const address = server.address();
      return typeof address === 'object' ? address : null;
    },
    connections: () => [...open],
    close: () => {
      closing ??= shutdown();
      return closing;
    },
  };

  async function shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([...open].map((connection) => connection.shutdown()));
    // What is left has not finished its handshake: nothing to answer there.
    for (const socket of sockets) socket.destroy();
    await stopped;
    logger.info('rpc server closed');
  }
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string) {
  return new Promise<AddressInfo>((resolve, reject) => {
    const fail = (err: Error) => reject(err);
    server.once('error', fail);
    server.listen({ port, host }, () => {
      server.off('error', fail);
      resolve(server.address() as AddressInfo);
    });
  });
}

function callHook(logger: Logger, name: string, hook: () => void): void {
  try {
    hook();
  } catch (err) {
    logger.error({ err, hook: name }, 'connection hook failed');
  }
}
