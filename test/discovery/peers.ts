/**
 * Real mDNS peers inside a test namespace: avahi-daemon on a private D-Bus system bus (no
 * systemd, nothing shared with the host's bus or /run/avahi-daemon) read with avahi-browse, and
 * a python3-zeroconf browser that reports every change as a JSON line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIn, spawnIn, waitForText, type NetSide } from '../helpers/netns.js';

/** A service as avahi-browse -p resolved it. */
export interface AvahiService {
  readonly name: string;
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly txt: Record<string, string>;
}

/** avahi-daemon in a namespace. */
export interface Avahi {
  /** `avahi-browse -rtp _sksd._tcp`: asks the network (about a second). */
  browse(): Promise<AvahiService[]>;
  /** The same from avahi's cache only (`-c`, milliseconds): what avahi clients see now. */
  cached(): Promise<AvahiService[]>;
}

const dirs = new Set<string>();

/** Starts dbus-daemon and avahi-daemon in the side's namespace, restricted to its veth. */
export async function startAvahi(side: NetSide): Promise<Avahi> {
  const dir = mkdtempSync('/tmp/sksdt-avahi-');
  dirs.add(dir);
  const bus = `unix:path=${join(dir, 'bus')}`;
  writeFileSync(join(dir, 'bus.conf'), busConfig(bus));
  writeFileSync(join(dir, 'avahi.conf'), avahiConfig(side));

  const dbus = spawnIn(side.ns, [
    'dbus-daemon',
    '--config-file',
    join(dir, 'bus.conf'),
    '--nofork',
  ]);
  let dbusOut = '';
  dbus.stderr?.on('data', (chunk: Buffer) => (dbusOut += chunk.toString()));
  await waitForBus(side.ns, bus, () => dbusOut);

  // A private /run/avahi-daemon (pid file, socket), so a host's own avahi is neither seen nor hit.
  const script =
    'mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && ' +
    `exec avahi-daemon -f ${join(dir, 'avahi.conf')} --no-drop-root --no-chroot --no-rlimits`;
  const avahi = spawnIn(
    side.ns,
    ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script],
    {
      DBUS_SYSTEM_BUS_ADDRESS: bus,
    },
  );
  let log = '';
  avahi.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitForText(() => log, /Server startup complete/, 10_000, 'avahi-daemon');

  const browse = async (flags: string) => {
    const env = { DBUS_SYSTEM_BUS_ADDRESS: bus };
    const result = await runIn(side.ns, ['avahi-browse', flags, '_sksd._tcp'], { env });
    return parseAvahiBrowse(result.stdout);
  };
  return { browse: () => browse('-rtp'), cached: () => browse('-rtpc') };
}

async function waitForBus(ns: string, bus: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus };
  const ping = [
    'dbus-send',
    '--system',
    '--print-reply',
    '--dest=org.freedesktop.DBus',
    '/',
    'org.freedesktop.DBus.GetId',
  ];
  while ((await runIn(ns, ping, { env })).code !== 0) {
    if (Date.now() > deadline) throw new Error(`dbus-daemon did not start:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolved (`=`) lines of `avahi-browse -p`; names come escaped as \DDD decimal bytes. */
export function parseAvahiBrowse(output: string): AvahiService[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('=;'))
    .map((line) => {
      const [, , , name = '', , , host = '', address = '', port = '0', ...rest] = line.split(';');
      const txt: Record<string, string> = {};
      for (const [, item = ''] of rest.join(';').matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
        const equals = item.indexOf('=');
        if (equals > 0) txt[item.slice(0, equals)] = item.slice(equals + 1);
      }
      return { name: unescapeAvahi(name), host, address, port: Number(port), txt };
    });
}

/** avahi_escape_label undone: \DDD is a byte in decimal, \X is X; the bytes are UTF-8. */
export function unescapeAvahi(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const decimal = /^\\(\d{3})/.exec(text.slice(i));
    if (decimal) {
      bytes.push(Number(decimal[1]));
      i += 3;
    } else if (text[i] === '\\' && i + 1 < text.length) {
      bytes.push(...Buffer.from(text[++i]!));
    } else {
      bytes.push(...Buffer.from(text[i]!));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function busConfig(address: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>${address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`;
}

function avahiConfig(side: NetSide): string {
  return `[server]
host-name=peer-${side.ns.slice(-8)}
use-ipv4=yes
use-ipv6=no
allow-interfaces=${side.veth}
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
`;
}

/** One event of the zeroconf browser: added, updated, removed (with `t`, epoch seconds). */
export interface ZeroconfEvent {
  readonly event: string;
  readonly t: number;
  readonly name?: string;
  readonly server?: string;
  readonly addresses?: string[];
  readonly port?: number;
  readonly txt?: Record<string, string>;
}

/** python3-zeroconf's ServiceBrowser in a namespace. */
export interface ZeroconfBrowser {
  events(): ZeroconfEvent[];
  /** The first event from index `from` on that matches, waiting at most `timeoutMs`. */
  waitFor(
    match: (e: ZeroconfEvent) => boolean,
    timeoutMs: number,
    from?: number,
  ): Promise<ZeroconfEvent>;
}

const BROWSER = fileURLToPath(new URL('./zeroconf-browser.py', import.meta.url));

/** Starts the browser on the side's address; it runs until removeNetPairs. */
export async function startZeroconf(side: NetSide): Promise<ZeroconfBrowser> {
  const child = spawnIn(side.ns, ['/usr/bin/python3', BROWSER, side.address]);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const events = (): ZeroconfEvent[] =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as ZeroconfEvent);
  await waitForText(() => out, /"event": "ready"/, 10_000, 'zeroconf browser');

  const waitFor = async (match: (e: ZeroconfEvent) => boolean, timeoutMs: number, from = 0) => {
    const found = () => events().slice(from).find(match);
    await waitForText(() => (found() ? 'found' : out), /^found$/, timeoutMs, 'zeroconf event');
    return found()!;
  };
  return { events, waitFor };
}

/** Removes the avahi directories (call after removeNetPairs stopped the daemons). */
export function removePeerDirs(): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
