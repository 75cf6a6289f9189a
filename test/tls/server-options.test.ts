/**
 * What the listener accepts: TLS 1.3 only by default; with TLS 1.2 allowed, only ECDHE with AEAD
 * suites and no renegotiation (the findings testssl reports on Node's defaults).
 */
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/tls.js';
import { fakeHandlers } from '../rpc/fake-handlers.js';

function handshake(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

let strict: TestServer;
let compatible: TestServer;

beforeAll(async () => {
  strict = await startServer({ handlers: fakeHandlers() });
  compatible = await startServer({ handlers: fakeHandlers(), minVersion: 'TLSv1.2' });
});
afterAll(async () => {
  await strict.server.close();
  await compatible.server.close();
});

describe('default: TLS 1.3 only', () => {
  it('accepts TLS 1.3', async () => {
    const socket = await handshake(strict.port, {});
    expect(socket.getProtocol()).toBe('TLSv1.3');
    socket.destroy();
  });

  it('refuses a TLS 1.2 client', async () => {
    await expect(handshake(strict.port, { maxVersion: 'TLSv1.2' })).rejects.toThrow(
      /version|alert/i,
    );
  });
});

describe('tls.minVersion TLSv1.2', () => {
  it('negotiates an ECDHE AEAD suite with a TLS 1.2 client', async () => {
    const socket = await handshake(compatible.port, { maxVersion: 'TLSv1.2' });
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(socket.getCipher().name).toMatch(/^ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)/);
    socket.destroy();
  });

  it('refuses a client that offers only CBC suites', async () => {
    const ciphers = 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:AES128-SHA';
    await expect(handshake(compatible.port, { maxVersion: 'TLSv1.2', ciphers })).rejects.toThrow();
  });

  it('refuses client-initiated renegotiation', async () => {
    const socket = await handshake(compatible.port, { maxVersion: 'TLSv1.2' });
    socket.on('error', () => undefined);
    const outcome = await new Promise<string>((resolve) => {
      socket.once('close', () => resolve('closed'));
      const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => {
        resolve(err ? 'refused' : 'renegotiated');
      });
      if (!started) resolve('refused');
    });
    expect(outcome).not.toBe('renegotiated');
    socket.destroy();
  });
});
