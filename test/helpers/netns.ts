/**
 * A private network for mDNS tests: two network namespaces joined by a veth pair with private
 * addresses, and a multicast route in each (without it 224.0.0.251 is unreachable there). In the
 * host's namespace a test's multicast would leave through the real interface; here nothing
 * leaves the pair. The tests create and delete the namespaces themselves.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One end of the pair. */
export interface NetSide {
  readonly ns: string;
  readonly veth: string;
  readonly address: string;
}

/** Two namespaces, `a` and `b`, on one link. */
export interface NetPair {
  readonly a: NetSide;
  readonly b: NetSide;
}

const pairs = new Set<NetPair>();
const children = new Set<ChildProcess>();

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Creates the namespaces, the veth pair, addresses, links and the multicast routes. */
export function createNetPair(options: { addressA?: boolean } = {}): NetPair {
  const id = randomBytes(3).toString('hex');
  const subnet = `10.77.${Number.parseInt(id.slice(0, 2), 16)}`;
  const side = (end: 'a' | 'b', host: number): NetSide => ({
    ns: `sksdt-${id}-${end}`,
    veth: `skv${id}${end}`,
    address: `${subnet}.${host}`,
  });
  const pair = { a: side('a', 1), b: side('b', 2) };
  pairs.add(pair);

  ip('netns', 'add', pair.a.ns);
  ip('netns', 'add', pair.b.ns);
  ip('link', 'add', pair.a.veth, 'type', 'veth', 'peer', 'name', pair.b.veth);
  for (const s of [pair.a, pair.b]) {
    ip('link', 'set', s.veth, 'netns', s.ns);
    ip('-n', s.ns, 'link', 'set', 'lo', 'up');
    ip('-n', s.ns, 'link', 'set', s.veth, 'up');
    if (s === pair.a && options.addressA === false) continue;
    configureAddress(s);
  }
  return pair;
}

/** Gives a side its address and multicast route (later, for a network that comes up late). */
export function configureAddress(s: NetSide): void {
  ip('-n', s.ns, 'addr', 'add', `${s.address}/24`, 'dev', s.veth);
  ip('-n', s.ns, 'route', 'add', '224.0.0.0/4', 'dev', s.veth);
}

/** Starts a long-running process inside a namespace; stopped by removeNetPairs. */
export function spawnIn(
  ns: string,
  argv: string[],
  env: Record<string, string> = {},
): ChildProcess {
  // `ip netns exec` execs the command: the child's pid is the command's own, so signals reach it.
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** What a command run to its end said. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command inside a namespace to its end (at most `timeoutMs`). */
export function runIn(
  ns: string,
  argv: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env };
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, ...argv],
      { env, timeout: options.timeoutMs ?? 20_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Stops what spawnIn started, then deletes every namespace this process created. */
export async function removeNetPairs(): Promise<void> {
  const exits = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  );
  await Promise.all(exits);
  for (const pair of pairs) {
    for (const s of [pair.a, pair.b]) {
      try {
        ip('netns', 'del', s.ns);
      } catch {
        // already gone
      }
    }
  }
  pairs.clear();
}

/** Resolves when `text()` matches, rejects with `what` and the text after `timeoutMs`. */
export async function waitForText(
  text: () => string,
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(text());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${timeoutMs} ms\n${text()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
