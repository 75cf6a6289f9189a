/**
 * The known-hosts store: file modes, trust on first use, pins surviving a reopen, a damaged file
 * refused rather than emptied, and the store driving a real connection.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FingerprintMismatchError, connect } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import {
  KnownHosts,
  defaultKnownHostsPath,
  hostKey,
  trustOnFirstUse,
} from '../../src/rpc/trust.js';
import { fingerprintOf } from '../../src/tls/fingerprint.js';
import { removeTempDirs, selfSigned, startServer, tempDir } from '../helpers/tls.js';
import { fakeHandlers } from './fake-handlers.js';

const FP = 'AB:'.repeat(31) + 'AB';

afterAll(removeTempDirs);

describe('KnownHosts', () => {
  it('lives under XDG_CONFIG_HOME or ~/.config', () => {
    expect(defaultKnownHostsPath({ XDG_CONFIG_HOME: '/x' })).toBe('/x/sksd/known_hosts.json');
    expect(defaultKnownHostsPath({})).toMatch(/\/\.config\/sksd\/known_hosts\.json$/);
  });

  it('keys hosts as host:port, IPv6 in brackets', () => {
    expect(hostKey('Node1.LOCAL', 7000)).toBe('node1.local:7000');
    expect(hostKey('::1', 7000)).toBe('[::1]:7000');
  });

  it('writes a 0600 file in a 0700 directory and reads pins back', async () => {
    const file = path.join(tempDir('trust'), 'sksd', 'known_hosts.json');
    const store = await KnownHosts.open(file);
    expect(store.get('h', 1)).toBeUndefined();

    await store.remember('h', 1, FP.replaceAll(':', '').toLowerCase());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect((await KnownHosts.open(file)).get('H', 1)).toBe(FP);

    expect(await store.forget('h', 1)).toBe(true);
    expect((await KnownHosts.open(file)).entries()).toEqual([]);
  });

  it('keeps pins written by another process in the meantime', async () => {
    const file = path.join(tempDir('trust'), 'known_hosts.json');
    const first = await KnownHosts.open(file);
    const second = await KnownHosts.open(file);
    await first.remember('a', 1, FP);
    await second.remember('b', 1, FP);
    expect((await KnownHosts.open(file)).entries().map((e) => e.host)).toEqual(['a:1', 'b:1']);
  });

  it('refuses a damaged file instead of forgetting every pin', async () => {
    const file = path.join(tempDir('trust'), 'known_hosts.json');
    writeFileSync(file, '{"version": 1, "hosts": {"a:1": {"fingerprint": "AB"');
    await expect(KnownHosts.open(file)).rejects.toThrow(/not valid JSON/);
    writeFileSync(
      file,
      JSON.stringify({ version: 1, hosts: { 'a:1': { fingerprint: 'AB', addedAt: '' } } }),
    );
    await expect(KnownHosts.open(file)).rejects.toThrow(/not a known-hosts file/);
  });
});

describe('trust on first use', () => {
  it('asks once, remembers, then pins; a new certificate is refused', async () => {
    const file = path.join(tempDir('trust'), 'known_hosts.json');
    const first = await startServer({ handlers: fakeHandlers() });
    const port = first.port;
    const asked: string[] = [];
    const confirm = (fp: string, key: string) => (asked.push(`${key} ${fp}`), true);

    const store = await KnownHosts.open(file);
    const c1 = await connect({
      host: '127.0.0.1',
      port,
      ...trustOnFirstUse(store, '127.0.0.1', port, confirm),
    });
    await c1.close();
    expect(asked).toEqual([`127.0.0.1:${port} ${fingerprintOf(first.cert)}`]);
    expect(JSON.parse(readFileSync(file, 'utf8')).hosts[`127.0.0.1:${port}`].fingerprint).toBe(
      fingerprintOf(first.cert),
    );

    const again = await KnownHosts.open(file);
    const c2 = await connect({
      host: '127.0.0.1',
      port,
      ...trustOnFirstUse(again, '127.0.0.1', port, confirm),
    });
    expect((await c2.call(Methods.info)).name).toBe('test');
    await c2.close();
    expect(asked).toHaveLength(1);

    // Same address, another certificate: what an interception looks like.
    await first.server.close();
    const impostor = await startServer({ handlers: fakeHandlers(), material: await selfSigned() });
    const other = impostor.port;
    await again.remember('127.0.0.1', other, fingerprintOf(first.cert));
    const err = await connect({
      host: '127.0.0.1',
      port: other,
      ...trustOnFirstUse(again, '127.0.0.1', other, confirm),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(FingerprintMismatchError);
    expect(err.message).toContain(file);
    await impostor.server.close();
  });
});
