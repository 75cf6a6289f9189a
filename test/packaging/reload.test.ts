/**
 * Config reload: the plan (what is live, what waits for a restart), the reloader's refusal of an
 * invalid file and its one-at-a-time rule, and SIGHUP on the real daemon with a real user: lists,
 * kernel limits and the log level change at once; a port change is logged as needing a restart;
 * an invalid file leaves the daemon serving with the config it had.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import {
  changedKeys,
  ConfigReloader,
  isLiveKey,
  liveView,
  planReload,
} from '../../src/daemon/reload.js';
import { RpcError, type RpcClient } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import { createEnv, makeCondaRoot, type CondaRoot } from '../helpers/conda.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connectTo, loggedIn, tearDown } from '../helpers/e2e.js';
import { createUser, type TestUser } from '../helpers/users.js';

const defaults = (): Config => ConfigSchema.parse({});
const quiet = pino({ level: 'silent' });

describe('the reload plan', () => {
  it('lists changed leaves, an array as one leaf', () => {
    const next = ConfigSchema.parse({
      auth: { denyUsers: ['root', 'eve'] },
      log: { level: 'debug' },
    });
    expect(changedKeys(defaults(), next).sort()).toEqual(['auth.denyUsers', 'log.level']);
    expect(changedKeys(defaults(), defaults())).toEqual([]);
  });

  it('applies live keys and keeps restart-only ones as they were', () => {
    const next = ConfigSchema.parse({
      listen: { port: 8700 },
      tls: { minVersion: 'TLSv1.2' },
      kernels: { perUser: 1 },
      rpc: { idleTimeout: 30, maxConnections: 5 },
    });
    const plan = planReload(defaults(), next);

    expect(plan.live.sort()).toEqual(['kernels.perUser', 'rpc.idleTimeout']);
    expect(plan.restart.sort()).toEqual(['listen.port', 'rpc.maxConnections', 'tls.minVersion']);
    expect(plan.effective.kernels.perUser).toBe(1);
    expect(plan.effective.listen.port).toBe(0);
    expect(plan.effective.rpc).toMatchObject({ idleTimeout: 30, maxConnections: 256 });
  });

  it('treats keys it does not know as restart-only', () => {
    expect(isLiveKey('auth.allowUsers')).toBe(true);
    expect(isLiveKey('auth.pamService')).toBe(false);
    expect(isLiveKey('discovery.interfaces')).toBe(false);
  });

  it('gives a view that follows the config in force', () => {
    let current = defaults();
    const view = liveView(() => current.rpc);
    current = ConfigSchema.parse({ rpc: { idleTimeout: 7 } });

    expect(view.idleTimeout).toBe(7);
    expect({ ...view }.idleTimeout).toBe(7);
    expect(Object.keys(view)).toEqual(Object.keys(current.rpc));
  });
});

describe('the reloader', () => {
  const dir = mkdtempSync('/tmp/sksd-reload-');
  const file = join(dir, 'sksd.conf');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const reloader = (applied: Config[], apply?: (c: Config) => void) =>
    new ConfigReloader({
      file,
      initial: defaults(),
      apply: apply ?? ((c) => applied.push(c)),
      logger: quiet,
    });

  it('refuses an invalid file and keeps the config in force', async () => {
    const applied: Config[] = [];
    const r = reloader(applied);
    writeFileSync(file, 'kernels:\n  perUser: many\n');

    const outcome = await r.reload();
    expect(outcome.result).toBe('refused');
    expect(outcome.result === 'refused' && outcome.problems[0]).toMatchObject({
      line: 2,
      key: 'kernels.perUser',
    });
    expect(applied).toEqual([]);
    expect(r.current).toEqual(defaults());
  });

  it('keeps reporting a restart-only change until it is in force', async () => {
    const applied: Config[] = [];
    const r = reloader(applied);
    writeFileSync(file, stringify({ listen: { port: 8700 }, log: { level: 'warn' } }));

    expect(await r.reload()).toEqual({
      result: 'applied',
      applied: ['log.level'],
      needsRestart: ['listen.port'],
    });
    expect(await r.reload()).toEqual({
      result: 'applied',
      applied: [],
      needsRestart: ['listen.port'],
    });
    expect(r.current.log.level).toBe('warn');
    expect(r.current.listen.port).toBe(0);
  });

  it('runs one reload at a time; signals meanwhile make exactly one more', async () => {
    const applied: Config[] = [];
    const r = reloader(applied);
    writeFileSync(file, stringify({ log: { level: 'error' } }));

    for (let i = 0; i < 5; i++) r.request();
    await expect.poll(() => applied.length).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(applied.length).toBe(2);
  });

  it('survives a failure while applying', async () => {
    const r = reloader([], () => {
      throw new Error('boom');
    });
    writeFileSync(file, stringify({ log: { level: 'error' } }));

    expect((await r.reload()).result).toBe('failed');
  });
});

describe('SIGHUP on the running daemon', () => {
  let daemon: TestDaemon;
  let conda: CondaRoot;
  let alice: TestUser;
  let config: Record<string, unknown>;

  const login = (): Promise<RpcClient> => loggedIn(daemon, alice);

  /** Rewrites the daemon's config file (over the helper's paths and listen), sends SIGHUP. */
  const reload = async (change: Record<string, unknown>, raw?: string): Promise<string> => {
    const before = daemon.logs().length;
    const file = join(daemon.dir, 'sksd.conf');
    const base = {
      listen: { address: '127.0.0.1', port: daemon.port },
      paths: { state: join(daemon.dir, 'state'), runtime: daemon.runtimeDir },
      ...config,
    };
    writeFileSync(file, raw ?? stringify({ ...base, ...change }));
    daemon.process.kill('SIGHUP');
    await expect
      .poll(() => /configuration reloaded|reload refused/.test(daemon.logs().slice(before)))
      .toBe(true);
    return daemon.logs().slice(before);
  };

  beforeAll(async () => {
    alice = createUser({ tag: 'r' });
    conda = makeCondaRoot();
    createEnv(conda, 'proj');
    config = { conda: { executable: conda.conda } };
    daemon = await startDaemon(config);
  });

  afterAll(async () => {
    expect(await tearDown(daemon)).toBe(0);
  });

  it('applies kernel limits to the next start', async () => {
    const logs = await reload({ kernels: { perUser: 1 } });
    expect(logs).toMatch(/kernels\.perUser/);

    const client = await login();
    const first = await client.call(Methods.kernelsStart, { env: 'proj' });
    const refused = await client.call(Methods.kernelsStart, { env: 'proj' }).catch((e) => e);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).errorName).toBe('limit_reached');
    await client.call(Methods.kernelsShutdown, { id: first.id });
    await client.close();
    await reload({});
  });

  it('applies lists and log level at once, and names what needs a restart', async () => {
    await (await login()).close();

    const logs = await reload({
      listen: { address: '127.0.0.1', port: daemon.port === 65000 ? 65001 : 65000 },
      auth: { denyUsers: ['root', alice.name] },
      log: { level: 'debug' },
    });
    expect(logs).toContain('needs a restart to take effect: listen.port');
    expect(logs).toMatch(/configuration reloaded: auth\.denyUsers, log\.level/);

    const refused = await login().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).errorName).toBe('bad_credentials');
    // A call now logs at debug level; the port did not change.
    const client = await connectTo(daemon);
    await client.call(Methods.info);
    await client.close();
    await expect.poll(() => daemon.logs()).toContain('"msg":"call done"');
  });

  it('applies a new kernel limit to the next start', async () => {
    await reload({ kernels: { perUser: 1 } });
    const client = await login();

    const first = await client.call(Methods.kernelsStart, { env: 'proj' });
    const second = await client.call(Methods.kernelsStart, { env: 'proj' }).catch((e) => e);
    expect((second as RpcError).errorName).toBe('limit_reached');
    expect((second as RpcError).data).toMatchObject({ limit: 1 });

    await client.call(Methods.kernelsShutdown, { id: first.id });
    await client.close();
  });

  it('refuses an invalid file and goes on serving with the config in force', async () => {
    const logs = await reload({}, 'kernels:\n  perUser: [\n');
    expect(logs).toContain('reload refused');
    expect(logs).toMatch(/sksd\.conf:\d+/);

    // Still serving, on the same port, for the same user.
    const client = await login();
    const { kernels } = await client.call(Methods.kernelsList);
    expect(kernels).toEqual([]);
    await client.close();
    expect(daemon.process.exitCode).toBeNull();
  });
});
