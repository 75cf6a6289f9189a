/**
 * Announcing through trouble, with the real daemon in a namespace and python-zeroconf as the
 * browser: UDP 5353 held by another program, a network that comes up after the daemon, and a
 * second daemon with the same name. None of them is a crash; each ends with an announcement.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configureAddress,
  createNetPair,
  removeNetPairs,
  spawnIn,
  waitForText,
  type NetPair,
} from '../helpers/netns.js';
import { removeNsDaemonDirs, startDaemonIn, type NsDaemon } from './ns-daemon.js';
import { removePeerDirs, startZeroconf, type ZeroconfBrowser } from './peers.js';

// Binds UDP 5353 without SO_REUSEADDR, as a careless program would, for a while.
const HOLD_5353 = `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
print("bound", flush=True)
time.sleep(2)
`;

const FLAPPER = fileURLToPath(new URL('./flapper.mjs', import.meta.url));
const SNIFFER = fileURLToPath(new URL('./mdns-sniffer.py', import.meta.url));

const added = (name: string) => (e: { event: string; name?: string }) =>
  e.event === 'added' && e.name === `${name}._sksd._tcp.local.`;

describe('announcing through trouble', () => {
  let net: NetPair;
  let late: NetPair;
  let zeroconf: ZeroconfBrowser;
  let lateZeroconf: ZeroconfBrowser;
  const daemons: NsDaemon[] = [];

  beforeAll(async () => {
    net = createNetPair();
    late = createNetPair({ addressA: false });
    [zeroconf, lateZeroconf] = await Promise.all([startZeroconf(net.b), startZeroconf(late.b)]);
  });

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await removeNetPairs();
    removePeerDirs();
    removeNsDaemonDirs();
  });

  it('UDP 5353 held by another program: logged, retried, announced once it is free', async () => {
    const holder = spawnIn(net.a.ns, ['/usr/bin/python3', '-c', HOLD_5353]);
    let held = '';
    holder.stdout?.on('data', (chunk: Buffer) => (held += chunk.toString()));
    await waitForText(() => held, /bound/, 5000, 'the 5353 holder');

    const daemon = await startDaemonIn(net.a, { name: 'Twin' });
    daemons.push(daemon);
    await waitForText(daemon.logs, /cannot announce on \S+ \(EADDRINUSE\)/, 5000, 'bind warning');
    const seen = await zeroconf.waitFor(added('Twin'), 10_000);
    console.info(
      `5353 held for 2 s: announced ${Math.round(seen.t * 1000 - daemon.spawnedAt)} ms after serve`,
    );
    expect(daemon.lines().some((l) => l['level'] === 50 || l['level'] === 60)).toBe(false);
  });

  it('a second daemon with the same name probes, finds it taken and becomes "Twin (2)"', async () => {
    const second = await startDaemonIn(net.a, { name: 'Twin' });
    daemons.push(second);
    const seen = await zeroconf.waitFor(added('Twin (2)'), 10_000);
    expect(seen.port).toBe(second.port);
    expect(second.logs()).toMatch(/"taken":"Twin","instance":"Twin \(2\)".*renamed/);
    // The first keeps its name: both are listed.
    expect(zeroconf.events().filter((e) => e.event === 'removed')).toEqual([]);
  });

  it('TXT updates faster than the repeat of each announcement never send an old one again', async () => {
    // What crosses the link, decoded: a browser's cache could hide an old TXT sent again.
    const sniffer = spawnIn(net.b.ns, ['/usr/bin/python3', SNIFFER, net.b.address]);
    let sniffed = '';
    sniffer.stdout?.on('data', (chunk: Buffer) => (sniffed += chunk.toString()));
    await waitForText(() => sniffed, /"ready"/, 10_000, 'sniffer');

    const child = spawnIn(net.a.ns, [process.execPath, FLAPPER, net.a.veth, 'Flapper']);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitForText(() => out, /done/, 10_000, 'flapper');
    // Past every pending one-second repeat.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    child.stdin?.end();

    const versions = sniffed
      .split('\n')
      .filter((line) => line.includes('"txt"') && line.includes('Flapper'))
      .map((line) => JSON.parse(line) as { ttl: number; strings: string[] })
      .filter((r) => r.ttl > 0)
      .map((r) => r.strings.find((s) => s.startsWith('version='))?.slice('version='.length));
    // Each version is sent, and none after a newer one. (On a loaded machine a version's own
    // one-second repeat may go out before the next update: a repeat, not an older record.)
    const order = versions.map((v) => Number(v?.slice(1)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(versions)).toEqual(new Set(['v1', 'v2', 'v3', 'v4']));
    // v4 announced, repeated a second later, and in answers to queries.
    expect(versions.filter((v) => v === 'v4').length).toBeGreaterThanOrEqual(2);
  });

  it('a network that comes up after the daemon is announced on once it has an address', async () => {
    const daemon = await startDaemonIn(late.a, { name: 'Late' });
    daemons.push(daemon);
    await waitForText(
      daemon.logs,
      /no network interface to announce on/,
      5000,
      'no-network warning',
    );
    expect(daemon.lines().find((l) => l['msg'] === 'announcing')).toBeUndefined();

    configureAddress(late.a);
    const up = Date.now();
    const seen = await lateZeroconf.waitFor(added('Late'), 15_000);
    expect(seen.addresses).toEqual([late.a.address]);
    console.info(`address added -> announced: ${Math.round(seen.t * 1000 - up)} ms`);
  });
});
