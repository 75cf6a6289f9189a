/**
 * The announcement on a real link with real peers: the built daemon announces in namespace A;
 * avahi-daemon (avahi-browse) and python3-zeroconf browse in namespace B. They resolve name,
 * address, port and TXT; a state change reaches both within 3 s; `sksd discover` and a
 * `--host "friendly name"` find the daemon and pin its certificate; a TXT fingerprint the
 * handshake contradicts is refused; stopping the daemon removes the service from both at once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLabel } from '../../src/discovery/names.js';
import { VERSION } from '../../src/version.js';
import { createEnvWithFakeKernel, makeCondaRoot, removeCondaRoots } from '../helpers/conda.js';
import { CLI } from '../helpers/daemon.js';
import {
  createNetPair,
  removeNetPairs,
  runIn,
  spawnIn,
  waitForText,
  type NetPair,
} from '../helpers/netns.js';
import { createUser, removeAllTestUsers, type TestUser } from '../helpers/users.js';
import { removeNsDaemonDirs, startDaemonIn, type NsDaemon } from './ns-daemon.js';
import {
  removePeerDirs,
  startAvahi,
  startZeroconf,
  type Avahi,
  type AvahiService,
  type ZeroconfBrowser,
} from './peers.js';

const NAME = 'Ünïcødé-Rechner für Spyder: Grüße aus dem Labor 🧑‍🔬🧑‍🔬 mit sehr langem Namen';
// 63 bytes end inside the first 🧑‍🔬: the label stops before it (names.test.ts has the details).
const LABEL = 'Ünïcødé-Rechner für Spyder: Grüße aus dem Labor';
const HOST = `${hostLabel(hostname())}.local`;
// The fake kernel waits, then becomes Debian's real spyder kernel: a start that stays busy
// longer than the 1 s debounce, so the busy state is announced.
const SLOW_KERNEL = `import os, sys, time
time.sleep(1.5)
os.execv("/usr/bin/python3", ["/usr/bin/python3", "-m", "spyder_kernels.console"] + sys.argv[1:])
`;

/** Time of the first daemon log line that matches. */
function logTime(daemon: NsDaemon, match: (line: Record<string, unknown>) => boolean): number {
  const line = daemon.lines().find(match);
  if (line === undefined) throw new Error(`no such log line:\n${daemon.logs()}`);
  return line['time'] as number;
}

describe('announcing on a link with avahi and python-zeroconf as browsers', () => {
  let net: NetPair;
  let avahi: Avahi;
  let zeroconf: ZeroconfBrowser;
  let daemon: NsDaemon;
  let user: TestUser;
  let home: string;

  /** The CLI in namespace B, as a user on another machine, with its own config directory. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runIn(net.b.ns, [process.execPath, CLI, ...args], {
      env: { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...env },
      timeoutMs: 30_000,
    });
  const ours = (services: AvahiService[]) => services.find((s) => s.name === LABEL);
  /** Polls avahi's cache until `check` holds; resolves with the time it did. */
  const avahiSees = async (check: (s: AvahiService | undefined) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (check(ours(await avahi.cached()))) return Date.now();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('avahi did not see it in time');
  };

  beforeAll(async () => {
    user = createUser({ tag: 'md' });
    const conda = makeCondaRoot();
    createEnvWithFakeKernel(conda, 'slow', SLOW_KERNEL);
    home = mkdtempSync('/tmp/sksdt-client-');

    net = createNetPair();
    [avahi, zeroconf] = await Promise.all([startAvahi(net.b), startZeroconf(net.b)]);
    daemon = await startDaemonIn(net.a, {
      name: NAME,
      conda: { executable: conda.conda },
      kernels: { shutdownGrace: 1 },
    });
  });

  afterAll(async () => {
    await daemon?.stop();
    await removeNetPairs();
    removePeerDirs();
    removeNsDaemonDirs();
    removeAllTestUsers();
    removeCondaRoots();
    rmSync(home, { recursive: true, force: true });
  });

  it('is resolved by both browsers: name cut to 63 bytes, address, port and TXT', async () => {
    const added = await zeroconf.waitFor((e) => e.event === 'added', 10_000);
    const listening = logTime(daemon, (l) => /listening on/.test(String(l['msg'])));
    const announcing = logTime(daemon, (l) => l['msg'] === 'announcing');
    console.info(
      `sksd serve -> zeroconf resolved it: ${Math.round(added.t * 1000 - daemon.spawnedAt)} ms ` +
        `(to listening ${listening - daemon.spawnedAt} ms, probing ${announcing - listening} ms)`,
    );
    expect(added).toMatchObject({
      name: `${LABEL}._sksd._tcp.local.`,
      server: `${HOST}.`,
      addresses: [net.a.address],
      port: daemon.port,
      txt: {
        txtvers: '1',
        proto: '1',
        version: VERSION,
        state: 'idle',
        kernels: '0',
        limit: '64',
        sha256: daemon.fingerprint,
      },
    });
    expect(Buffer.byteLength(LABEL)).toBeLessThanOrEqual(63);

    const viaAvahi = ours(await avahi.browse());
    expect(viaAvahi).toEqual({
      name: LABEL,
      host: HOST,
      address: net.a.address,
      port: daemon.port,
      txt: expect.objectContaining({ state: 'idle', sha256: daemon.fingerprint, kernels: '0' }),
    });
  });

  it('`sksd discover` lists it, not yet pinned', async () => {
    const result = await cli(['discover', '--timeout', '1.5', '--json']);
    expect(result.code).toBe(0);
    const found = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    expect(found).toEqual([
      {
        name: LABEL,
        host: HOST,
        addresses: [net.a.address],
        port: daemon.port,
        state: 'idle',
        kernels: 0,
        limit: 64,
        protocol: 1,
        version: VERSION,
        fingerprint: daemon.fingerprint,
        pinned: 'no',
      },
    ]);
    const table = await cli(['discover', '--timeout', '1']);
    expect(table.stdout).toMatch(
      new RegExp(
        `^NAME .*PINNED\\n${LABEL} +${HOST} +${net.a.address} +${daemon.port} +idle +0/64 `,
      ),
    );
  });

  it('a kernel start by friendly name: busy, then the count, reach both within 3 s', async () => {
    const from = zeroconf.events().length;
    const t0 = Date.now();
    const start = cli(
      [
        'kernel',
        'start',
        '--host',
        NAME,
        '-u',
        user.name,
        '-e',
        'slow',
        '--json',
        '-o',
        join(home, 'k.json'),
      ],
      {
        SKSD_PASSWORD: user.password,
      },
    );

    const busy = await zeroconf.waitFor(
      (e) => e.event === 'updated' && e.txt?.['state'] === 'busy',
      5000,
      from,
    );
    const avahiBusy = await avahiSees((s) => s?.txt['state'] === 'busy', 5000);
    const announced = logTime(
      daemon,
      (l) => l['msg'] === 'announcing a new state' && l['state'] === 'busy',
    );
    console.info(
      `request -> busy seen: zeroconf ${Math.round(busy.t * 1000 - t0)} ms, ` +
        `avahi ${avahiBusy - t0} ms; ` +
        `TXT sent -> zeroconf ${Math.round(busy.t * 1000 - announced)} ms`,
    );
    expect(busy.t * 1000 - t0).toBeLessThan(3000);
    expect(avahiBusy - t0).toBeLessThan(3000);

    const started = await start;
    const t1 = Date.now();
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toMatch(
      /Pinned the certificate of .*\.local:\d+ \(announced by mDNS, shown by TLS\)/,
    );
    const idle = await zeroconf.waitFor(
      (e) => e.event === 'updated' && e.txt?.['state'] === 'idle' && e.txt['kernels'] === '1',
      5000,
      from,
    );
    const avahiIdle = await avahiSees(
      (s) => s?.txt['state'] === 'idle' && s.txt['kernels'] === '1',
      5000,
    );
    console.info(
      `kernel ready -> idle, 1 kernel seen: zeroconf ${Math.round(idle.t * 1000 - t1)} ms, ` +
        `avahi ${avahiIdle - t1} ms`,
    );
    expect(idle.t * 1000 - t1).toBeLessThan(3000);

    const pins = readFileSync(join(home, '.config', 'sksd', 'known_hosts.json'), 'utf8');
    expect(JSON.parse(pins).hosts).toEqual({
      [`${HOST.toLowerCase()}:${daemon.port}`]: {
        fingerprint: daemon.fingerprint,
        addedAt: expect.any(String),
      },
    });

    const id = (JSON.parse(started.stdout) as { id: string }).id;
    const stopped = await cli(['kernel', 'stop', id, '--host', HOST, '-u', user.name], {
      SKSD_PASSWORD: user.password,
    });
    expect(stopped.code, stopped.stderr).toBe(0);
    await zeroconf.waitFor((e) => e.event === 'updated' && e.txt?.['kernels'] === '0', 5000, from);
  });

  it('`sksd discover` now shows the pin', async () => {
    const result = await cli(['discover', '--timeout', '1', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject([{ name: LABEL, pinned: 'yes' }]);
  });

  it('refuses a TXT fingerprint the handshake contradicts, and pins nothing', async () => {
    const wrong = 'AB:'.repeat(31) + 'AB';
    const impostor = fileURLToPath(new URL('./impostor.mjs', import.meta.url));
    const child = spawnIn(net.a.ns, [
      process.execPath,
      impostor,
      net.a.veth,
      'Impostor',
      String(daemon.port),
      wrong,
    ]);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitForText(() => out, /announced/, 10_000, 'impostor');

    const fresh = mkdtempSync('/tmp/sksdt-client-');
    const result = await runIn(net.b.ns, [process.execPath, CLI, 'info', 'Impostor'], {
      env: { HOME: fresh, XDG_CONFIG_HOME: fresh },
    });
    child.stdin?.end();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not the one its mDNS announcement names!/);
    expect(result.stderr).toContain(`announced: ${wrong}`);
    expect(result.stderr).toContain(`presented: ${daemon.fingerprint}`);
    expect(() => readFileSync(join(fresh, 'sksd', 'known_hosts.json'))).toThrow(/ENOENT/);
    rmSync(fresh, { recursive: true, force: true });
  });

  it('stopping the daemon removes the service from both browsers at once (goodbye)', async () => {
    const from = zeroconf.events().length;
    const t0 = Date.now();
    expect(await daemon.stop()).toBe(0);
    const removed = await zeroconf.waitFor(
      (e) => e.event === 'removed' && e.name?.startsWith(LABEL) === true,
      3000,
      from,
    );
    const avahiGone = await avahiSees((s) => s === undefined, 3000);
    console.info(
      `stop -> removed: zeroconf ${Math.round(removed.t * 1000 - t0)} ms, ` +
        `avahi ${avahiGone - t0} ms`,
    );
  });
});
