/**
 * The server over real TLS, spoken to with raw lines: JSON-RPC 2.0 envelopes and batches (spec
 * sections 4 to 6), size and batch caps, login gating, error hygiene, idle timeout, resets.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/rpc/errors.js';
import { Methods } from '../../src/rpc/methods.js';
import { LineClient, startServer, type TestServer } from '../helpers/tls.js';
import { FAKE_PASSWORD, FAKE_USER, SECRET_DETAIL, fakeHandlers, gate } from './fake-handlers.js';

const info = (id: unknown) => ({ jsonrpc: '2.0', id, method: Methods.info.name });
const login = (id: unknown, password = FAKE_PASSWORD) => ({
  jsonrpc: '2.0',
  id,
  method: Methods.login.name,
  params: { user: FAKE_USER, password },
});
const code = (name: keyof typeof ErrorCodes) => ErrorCodes[name].code;

let t: TestServer;
const clients: LineClient[] = [];

async function client(): Promise<LineClient> {
  const c = await LineClient.open(t.port);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  t = await startServer({
    handlers: fakeHandlers(),
    limits: { maxMessageBytes: 4096, maxBatch: 3 },
  });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.socket.destroy();
});
afterAll(() => t.server.close());

describe('envelopes', () => {
  it('answers a valid request', async () => {
    const c = await client();
    const reply = await c.call(info(1));
    expect(reply).toMatchObject({ jsonrpc: '2.0', id: 1, result: { name: 'test', user: null } });
  });

  it('answers malformed JSON with -32700 and keeps the connection', async () => {
    const c = await client();
    c.send('{"jsonrpc": "2.0", "method": \n');
    expect(await c.next()).toMatchObject({ id: null, error: { code: -32700 } });
    expect(await c.call(info('after'))).toMatchObject({ id: 'after', result: { name: 'test' } });
  });

  it('answers invalid UTF-8 as a parse error and tolerates \\r\\n', async () => {
    const c = await client();
    c.send(Buffer.from([0x22, 0xff, 0xfe, 0x22, 0x0a]));
    expect(await c.next()).toMatchObject({ id: null, error: { code: -32700 } });
    c.send(`${JSON.stringify(info(2))}\r\n`);
    expect(await c.next()).toMatchObject({ id: 2, result: {} });
  });

  it.each([
    ['a number', 1, null],
    ['no jsonrpc member', { id: 3, method: 'sksd.info' }, 3],
    ['a non-string method', { jsonrpc: '2.0', id: 4, method: 1 }, 4],
    ['scalar params', { jsonrpc: '2.0', id: 5, method: 'sksd.info', params: 'x' }, 5],
    ['an object id', { jsonrpc: '2.0', id: { a: 1 }, method: 'sksd.info' }, null],
    ['a response object', { jsonrpc: '2.0', id: 6, result: 1 }, 6],
  ])('answers %s with -32600', async (_what, message, id) => {
    const c = await client();
    expect(await c.call(message)).toMatchObject({ id, error: { code: -32600 } });
  });

  it('answers an unknown method with -32601, and a notification with nothing', async () => {
    const c = await client();
    c.send({ jsonrpc: '2.0', method: 'no.such.method' });
    expect(await c.call({ jsonrpc: '2.0', id: 7, method: 'no.such.method' })).toMatchObject({
      id: 7,
      error: { code: -32601, data: { name: 'method_not_found' } },
    });
  });
});

describe('batches (section 6)', () => {
  it('answers an empty array with one invalid_request object', async () => {
    const c = await client();
    const reply = await c.call([]);
    expect(Array.isArray(reply)).toBe(false);
    expect(reply).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('answers only the requests of a batch mixed with notifications, in an array', async () => {
    const c = await client();
    const reply = await c.call([info(1), { jsonrpc: '2.0', method: Methods.info.name }, 5]);
    expect(reply).toHaveLength(2);
    expect(reply.map((r: { id: unknown }) => r.id)).toEqual([1, null]);
    expect(reply.find((r: { id: unknown }) => r.id === null).error.code).toBe(-32600);
  });

  it('answers a one-request batch with an array, and notifications only with nothing', async () => {
    const c = await client();
    expect(await c.call([info(1)])).toEqual([expect.objectContaining({ id: 1 })]);
    c.send([
      { jsonrpc: '2.0', method: Methods.info.name },
      { jsonrpc: '2.0', method: 'x.y' },
    ]);
    expect(await c.silentFor(300)).toBe(true);
  });

  it('refuses a batch longer than rpc.maxBatch', async () => {
    const c = await client();
    const reply = await c.call([info(1), info(2), info(3), info(4)]);
    expect(reply).toMatchObject({
      id: null,
      error: { code: code('batch_too_large'), data: { maxBatch: 3 } },
    });
  });

  it('applies a login to the calls after it in the same batch', async () => {
    const c = await client();
    const reply = await c.call([
      login(1),
      { jsonrpc: '2.0', id: 2, method: Methods.kernelsList.name },
    ]);
    expect(reply[1]).toMatchObject({ id: 2, result: { kernels: [] } });
  });
});

describe('size cap', () => {
  it('answers a too-large line with message_too_large and closes', async () => {
    const c = await client();
    c.send(`${JSON.stringify({ ...info(1), params: { pad: 'x'.repeat(5000) } })}\n`);
    expect(await c.next()).toMatchObject({ id: null, error: { code: code('message_too_large') } });
    await c.closed;
  });

  it('closes an unterminated stream at the cap', async () => {
    const c = await client();
    for (let i = 0; i < 10; i++) c.send('x'.repeat(1000));
    expect(await c.next()).toMatchObject({ id: null, error: { code: code('message_too_large') } });
    await c.closed;
  });

  it('accepts a message split into one-byte chunks', async () => {
    const c = await client();
    for (const ch of `${JSON.stringify(info(9))}\n`) c.send(ch);
    expect(await c.next()).toMatchObject({ id: 9, result: {} });
  });
});

describe('params, login and errors', () => {
  it('refuses bad params with -32602 naming the field, not echoing the value', async () => {
    const c = await client();
    const secret = 'Hunter2 do-not-echo!';
    const bad = {
      jsonrpc: '2.0',
      id: 1,
      method: Methods.login.name,
      params: { user: secret, password: 7 },
    };
    const reply = await c.call(bad);
    expect(reply.error.code).toBe(-32602);
    const fields = reply.error.data.issues.map((i: { field: string }) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['user', 'password']));
    expect(JSON.stringify(reply)).not.toContain(secret);
    expect(t.log()).not.toContain(secret);
  });

  it('refuses auth-only methods before login with not_logged_in, accepts them after', async () => {
    const c = await client();
    const list = { jsonrpc: '2.0', id: 2, method: Methods.kernelsList.name };
    expect(await c.call(list)).toMatchObject({ error: { code: code('not_logged_in') } });
    expect(await c.call(login(1, 'wrong'))).toMatchObject({
      error: { code: code('bad_credentials') },
    });
    expect(await c.call(login(1))).toMatchObject({ result: { user: FAKE_USER } });
    expect(await c.call(list)).toMatchObject({ id: 2, result: { kernels: [] } });
  });

  it('turns a plain Error into internal_error without its text; the log has it', async () => {
    const c = await client();
    await c.call(login(1));
    const reply = await c.call({ jsonrpc: '2.0', id: 3, method: Methods.envsList.name });
    expect(reply.error).toEqual({
      code: -32603,
      message: ErrorCodes.internal_error.message,
      data: { name: 'internal_error' },
    });
    expect(JSON.stringify(reply)).not.toContain('secret-detail');
    expect(t.log()).toContain(SECRET_DETAIL);
    expect(t.log()).toMatch(/"conn":"[0-9a-f]{8}".*handler failed/);
  });

  it('does not send a result that breaks its schema', async () => {
    const c = await client();
    const reply = await c.call({
      jsonrpc: '2.0',
      id: 4,
      method: Methods.resume.name,
      params: { token: 't' },
    });
    expect(reply).toMatchObject({ id: 4, error: { code: -32603 } });
  });
});

describe('connection life', () => {
  it('survives a client that resets mid-message', async () => {
    const raw = net.connect(t.port, '127.0.0.1');
    const c = await LineClient.open(t.port, { socket: raw });
    c.send('{"jsonrpc":"2.0","id":1,"meth');
    await new Promise((r) => setTimeout(r, 50));
    raw.resetAndDestroy();
    await c.closed;
    const d = await client();
    expect(await d.call(info(1))).toMatchObject({ result: { name: 'test' } });
  });

  it('refuses connections beyond rpc.maxConnections, and accepts again once one closes', async () => {
    const s = await startServer({ handlers: fakeHandlers(), limits: { maxConnections: 2 } });
    const first = await LineClient.open(s.port);
    const second = await LineClient.open(s.port);
    await expect(LineClient.open(s.port)).rejects.toThrow();
    expect(s.log()).toContain('maxConnections reached');

    first.socket.destroy();
    await expect.poll(() => s.server.connections().length).toBe(1);
    const third = await LineClient.open(s.port);
    expect(await third.call(info(1))).toMatchObject({ result: { name: 'test' } });
    expect(await second.call(info(2))).toMatchObject({ result: { name: 'test' } });
    await s.server.close();
  });

  it('reports IPv4 peers of a dual-stack listener without the ::ffff: prefix', async () => {
    const s = await startServer({ handlers: fakeHandlers(), host: '::' });
    const c = await LineClient.open(s.port);
    await c.call(info(1));
    expect(s.connections[0]).toMatchObject({
      localAddress: '127.0.0.1',
      remoteAddress: '127.0.0.1',
    });
    await s.server.close();
  });
});

describe('timeouts and shutdown', () => {
  it('closes an idle connection, but not during a long call', async () => {
    const slow = gate();
    const s = await startServer({ handlers: fakeHandlers(slow), limits: { idleTimeout: 1 } });
    const busy = await LineClient.open(s.port);
    const idle = await LineClient.open(s.port);
    await busy.call(login(1));
    busy.send({
      jsonrpc: '2.0',
      id: 2,
      method: Methods.kernelsShutdown.name,
      params: { id: 'abcdef' },
    });

    await idle.closed;
    await new Promise((r) => setTimeout(r, 1500));
    expect(busy.socket.destroyed).toBe(false);
    slow.open();
    expect(await busy.next()).toMatchObject({ id: 2, result: { outcome: 'already_dead' } });
    await busy.closed; // idle again after the reply
    await s.server.close();
  });

  it('fails running calls with shutting_down and closes on server close', async () => {
    const s = await startServer({ handlers: fakeHandlers() });
    const c = await LineClient.open(s.port);
    await c.call(login(1));
    c.send({
      jsonrpc: '2.0',
      id: 5,
      method: Methods.kernelsShutdown.name,
      params: { id: 'abcdef' },
    });
    c.send([
      { jsonrpc: '2.0', id: 6, method: Methods.kernelsShutdown.name, params: { id: 'abcdeg' } },
    ]);
    await new Promise((r) => setTimeout(r, 100));

    const closing = s.server.close();
    const replies = [await c.next(), await c.next()];
    const shuttingDown = (id: number) =>
      expect.objectContaining({
        id,
        error: expect.objectContaining({ code: code('shutting_down') }),
      });
    expect(replies).toContainEqual(shuttingDown(5));
    expect(replies).toContainEqual([shuttingDown(6)]); // a batch is answered as a batch
    await c.closed;
    await closing;
    await expect(LineClient.open(s.port)).rejects.toThrow();
  });
});
