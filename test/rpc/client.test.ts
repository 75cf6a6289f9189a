/**
 * The typed client against the real server over TLS: trust by CA and by pinned fingerprint, the
 * wrong certificate refused, wire errors as RpcError, notifications, closing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/rpc/errors.js';
import { Methods } from '../../src/rpc/methods.js';
import {
  FingerprintMismatchError,
  RpcConnectionError,
  RpcError,
  connect,
  type RpcClient,
} from '../../src/rpc/client.js';
import { fingerprintOf } from '../../src/tls/fingerprint.js';
import {
  issueCert,
  makeCa,
  selfSigned,
  startServer,
  type TestCa,
  type TestServer,
} from '../helpers/tls.js';
import { FAKE_PASSWORD, FAKE_USER, FakeTick, fakeHandlers } from './fake-handlers.js';

let ca: TestCa;
let byCa: TestServer;
let selfSignedServer: TestServer;

beforeAll(async () => {
  ca = await makeCa();
  byCa = await startServer({ handlers: fakeHandlers(), material: await issueCert(ca) });
  selfSignedServer = await startServer({ handlers: fakeHandlers() });
});
afterAll(async () => {
  await byCa.server.close();
  await selfSignedServer.server.close();
});

async function withClient(client: RpcClient, body: (c: RpcClient) => Promise<void>): Promise<void> {
  try {
    await body(client);
  } finally {
    await client.close();
  }
}

describe('trust', () => {
  it('accepts the right certificate by CA (IP address and host name)', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const client = await connect({ host, port: byCa.port, ca: ca.cert });
      await withClient(client, async (c) => {
        expect((await c.call(Methods.info)).name).toBe('test');
      });
    }
  });

  it('refuses a certificate the CA did not sign', async () => {
    const port = selfSignedServer.port;
    const err = await connect({ host: '127.0.0.1', port, ca: ca.cert }).catch((e) => e);
    expect(err).toBeInstanceOf(RpcConnectionError);
    expect(err.reason).toBe('tls');
  });

  it('refuses a CA-signed certificate for another name', async () => {
    const other = await startServer({
      handlers: fakeHandlers(),
      material: await issueCert(ca, { dns: ['elsewhere.example'], ips: [] }),
    });
    await expect(
      connect({ host: '127.0.0.1', port: other.port, ca: ca.cert }),
    ).rejects.toMatchObject({
      reason: 'tls',
    });
    await other.server.close();
  });

  it('accepts the pinned fingerprint, in any case and with or without colons', async () => {
    const pin = fingerprintOf(selfSignedServer.cert).replaceAll(':', '').toLowerCase();
    const port = selfSignedServer.port;
    const client = await connect({ host: '127.0.0.1', port, pinnedFingerprint: pin });
    await withClient(client, async (c) => {
      expect(c.fingerprint).toBe(fingerprintOf(selfSignedServer.cert));
      expect((await c.call(Methods.info)).user).toBeNull();
    });
  });

  it('refuses a wrong certificate loudly, showing both fingerprints', async () => {
    const expected = fingerprintOf((await selfSigned()).cert);
    const presented = fingerprintOf(selfSignedServer.cert);
    const err = await connect({
      host: '127.0.0.1',
      port: selfSignedServer.port,
      pinnedFingerprint: expected,
      pinSource: 'the pin in known_hosts.json',
    }).catch((e) => e);
    expect(err).toBeInstanceOf(FingerprintMismatchError);
    expect(err.message).toContain(expected);
    expect(err.message).toContain(presented);
    expect(err.message).toContain('known_hosts.json');
  });

  it('asks on first use and refuses when the answer is no', async () => {
    const seen: string[] = [];
    const onFirstUse = (fp: string) => (seen.push(fp), false);
    await expect(
      connect({ host: '127.0.0.1', port: selfSignedServer.port, onFirstUse }),
    ).rejects.toMatchObject({ reason: 'untrusted' });
    expect(seen).toEqual([fingerprintOf(selfSignedServer.cert)]);
  });

  it('refuses to connect with no way to trust the daemon', async () => {
    await expect(connect({ host: '127.0.0.1', port: selfSignedServer.port })).rejects.toMatchObject(
      {
        reason: 'untrusted',
      },
    );
  });
});

describe('calls', () => {
  const pinned = () => ({
    host: '127.0.0.1',
    port: selfSignedServer.port,
    pinnedFingerprint: fingerprintOf(selfSignedServer.cert),
  });

  it('returns typed results and raises wire errors as RpcError', async () => {
    await withClient(await connect(pinned()), async (c) => {
      const err = await c.call(Methods.kernelsList).catch((e) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect(err).toMatchObject({
        code: ErrorCodes.not_logged_in.code,
        errorName: 'not_logged_in',
      });

      const login = await c.call(Methods.login, { user: FAKE_USER, password: FAKE_PASSWORD });
      expect(login.user).toBe(FAKE_USER);
      expect((await c.call(Methods.info)).user).toBe(FAKE_USER);
    });
  });

  it('delivers server notifications to the listener', async () => {
    await withClient(await connect(pinned()), async (c) => {
      const ticks: number[] = [];
      c.onNotification(FakeTick, ({ n }) => ticks.push(n));
      await c.call(Methods.login, { user: FAKE_USER, password: FAKE_PASSWORD });
      await c.call(Methods.kernelsList); // the fake handler notifies before it replies
      expect(ticks).toEqual([1]);

      selfSignedServer.server.connections().forEach((conn) => conn.notify(FakeTick, { n: 2 }));
      await expect.poll(() => ticks).toEqual([1, 2]);
    });
  });

  it('fails calls in flight when the connection closes, and calls after it', async () => {
    const c = await connect(pinned());
    await c.call(Methods.login, { user: FAKE_USER, password: FAKE_PASSWORD });
    const inFlight = c.call(Methods.kernelsShutdown, { id: 'abcdef' }); // never released
    const failed = expect(inFlight).rejects.toMatchObject({ reason: 'closed' });
    await c.close();
    await failed;
    await expect(c.call(Methods.info)).rejects.toBeInstanceOf(RpcConnectionError);
  });

  it("reports the daemon's message_too_large as the reason the connection closed", async () => {
    const small = await startServer({
      handlers: fakeHandlers(),
      limits: { maxMessageBytes: 1024 },
    });
    const pin = fingerprintOf(small.cert);
    const c = await connect({ host: '127.0.0.1', port: small.port, pinnedFingerprint: pin });
    const big = { user: FAKE_USER, password: 'x'.repeat(2000) };
    const err = await c.call(Methods.login, big).catch((e) => e);
    expect(err).toMatchObject({ errorName: 'message_too_large' });
    await c.close();
    await small.server.close();
  });
});
