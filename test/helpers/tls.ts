/**
 * Real TLS for tests: throw-away CAs and certificates, a test server on 127.0.0.1 with a free
 * port, a raw line client for malformed frames, and a logger whose lines a test can read.
 */
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { pino } from 'pino';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import type { Logger } from '../../src/log.js';
import {
  createRpcServer,
  type Handlers,
  type RpcConnection,
  type RpcServer,
} from '../../src/rpc/server.js';
import { LineQueue } from './line-queue.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { tlsServerOptions } from '../../src/tls/server-options.js';

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const crypto = webcrypto as unknown as X509Crypto;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const LOCAL = { dns: ['localhost'], ips: ['127.0.0.1', '::1'] };

/** A throw-away certificate authority. */
export interface TestCa {
  readonly cert: string;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly name: string;
}

/** Makes a CA certificate valid for a day. */
export async function makeCa(name = 'sksd test CA'): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${name}`,
      keys,
      signingAlgorithm: ECDSA,
      notAfter: new Date(Date.now() + 86_400_000),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), keys, name: `CN=${name}` };
}

/** Issues a serverAuth certificate for localhost and the loopback addresses, signed by `ca`. */
export async function issueCert(ca: TestCa, names = LOCAL): Promise<{ cert: string; key: string }> {
  const keys = await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']);
  const altNames = [
    ...names.dns.map((value) => ({ type: 'dns' as const, value })),
    ...names.ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: 'CN=localhost',
      issuer: ca.name,
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: ECDSA,
      notAfter: new Date(Date.now() + 86_400_000),
      extensions: [
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(altNames),
      ],
    },
    crypto,
  );
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { cert: cert.toString('pem'), key };
}

/** A self-signed pair as the daemon makes it, for loopback names only. */
export function selfSigned(): Promise<{ cert: string; key: string }> {
  return generateSelfSigned(LOCAL, 1);
}

const dirs: string[] = [];

/** A temporary directory removed by removeTempDirs(). */
export function tempDir(tag = 'tls'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sksd-${tag}-`));
  dirs.push(dir);
  return dir;
}

/** Removes every tempDir() made so far (call in afterAll). */
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A pino logger at debug level whose JSON lines the test can search. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { logger, text: () => lines.join('') };
}

/** The rpc section with its schema defaults, some overridden. */
export function rpcLimits(overrides: Partial<Config['rpc']> = {}): Config['rpc'] {
  return { ...ConfigSchema.parse({}).rpc, ...overrides };
}

/** A test server, listening on 127.0.0.1 unless told otherwise. */
export interface TestServer {
  readonly server: RpcServer;
  readonly port: number;
  readonly cert: string;
  readonly log: () => string;
  readonly connections: RpcConnection[];
}

/** Starts an RPC server with the given handlers; close it with `server.close()`. */
export async function startServer(options: {
  handlers: Handlers;
  material?: { cert: string; key: string };
  limits?: Partial<Config['rpc']>;
  minVersion?: Config['tls']['minVersion'];
  host?: string;
}): Promise<TestServer> {
  const material = options.material ?? (await selfSigned());
  const { logger, text } = captureLogger();
  const connections: RpcConnection[] = [];
  const server = createRpcServer({
    tls: tlsServerOptions(material, { minVersion: options.minVersion ?? 'TLSv1.3' }),
    limits: rpcLimits(options.limits),
    logger,
    handlers: options.handlers,
    onConnection: (c) => connections.push(c),
  });
  const { port } = await server.listen(0, options.host ?? '127.0.0.1');
  return { server, port, cert: material.cert, log: text, connections };
}

/** A raw TLS line client: sends any bytes, reads replies one JSON line at a time. */
export class LineClient {
  private buffer = '';
  private readonly lines: LineQueue;
  readonly closed: Promise<void>;

  private constructor(readonly socket: TLSSocket) {
    this.lines = new LineQueue(() => socket.destroyed, {
      ended: 'connection closed',
      timeout: 'no reply in time',
    });
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push(this.buffer.slice(0, newline));
        this.buffer = this.buffer.slice(newline + 1);
      }
    });
    socket.on('error', () => undefined); // resets are what some tests provoke
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.lines.wake());
  }

  /** Connects without verifying the certificate (these tests are about the protocol). */
  static open(port: number, options: ConnectionOptions = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      socket.once('secureConnect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a value as one JSON line, or a string or bytes exactly as given. */
  send(message: unknown): void {
    if (typeof message === 'string' || Buffer.isBuffer(message)) this.socket.write(message);
    else this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** The next reply, parsed; rejects if the connection closes first or nothing comes in time. */
  async next(timeoutMs = 5000): Promise<any> {
    return JSON.parse(await this.lines.next(timeoutMs));
  }

  /** Sends a request and returns its reply, skipping server notifications in between. */
  async call(message: unknown): Promise<any> {
    this.send(message);
    for (;;) {
      const reply = await this.next();
      if (!(typeof reply?.method === 'string' && reply.id === undefined)) return reply;
    }
  }

  /** True if no reply arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    return this.next(ms).then(
      () => false,
      () => true,
    );
  }

  end(): void {
    this.socket.end();
  }
}
