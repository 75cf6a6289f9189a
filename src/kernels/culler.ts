/**
 * Idle culling (kernels.idleTimeout): a running kernel that is not busy, has had no client
 * activity on IOPub for the timeout, and (unless kernels.cullConnected) has no client connected,
 * is shut down. "Connected" is an ESTABLISHED TCP connection to the kernel's shell, control, stdin
 * or heartbeat port, read from /proc/net/tcp; the daemon itself keeps only IOPub open, and the
 * kernel's own connection to its shell port is told apart by its socket inode. A connected client
 * counts as activity, so the timeout runs from when the last one left. docs/configuration.md
 * describes the limits.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { Logger } from '../log.js';
import type { Kernel } from './kernel.js';

/** What the culler needs from the manager. */
export interface CullerOptions {
  /** Read at every check, so a reloaded config applies from the next one; 0: no culling. */
  readonly settings: () => { readonly idleTimeoutMs: number; readonly cullConnected: boolean };
  /** The kernels to look at. */
  readonly kernels: () => Iterable<Kernel>;
  /** Shuts a kernel down as culled; errors are the manager's to log. */
  readonly cull: (kernel: Kernel) => Promise<unknown>;
  readonly logger: Logger;
}

const TCP_ESTABLISHED = '01';
const MAX_TICK_MS = 60_000;

/** An established IPv4 TCP connection as /proc/net/tcp lists it, one row per local socket. */
export interface TcpConnection {
  readonly local: string;
  readonly remote: string;
  readonly inode: string;
}

/** Every established IPv4 TCP connection of this network namespace, by local endpoint. */
export async function establishedConnections(): Promise<Map<string, TcpConnection>> {
  const text = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const connections = new Map<string, TcpConnection>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [, local, remote, state] = fields;
    const inode = fields[9];
    if (local === undefined || remote === undefined || inode === undefined) continue;
    if (state !== TCP_ESTABLISHED) continue;

    const entry = { local: endpoint(local), remote: endpoint(remote), inode };
    connections.set(entry.local, entry);
  }
  return connections;
}

/** `0100007F:1F90` -> `127.0.0.1:8080`: the address is a 32-bit word in host byte order. */
function endpoint(hex: string): string {
  const [hexIp = '', hexPort = ''] = hex.split(':');
  const bytes = Buffer.from(hexIp, 'hex');
  if (endianness() === 'LE') bytes.reverse();
  return `${[...bytes].join('.')}:${parseInt(hexPort, 16)}`;
}

/** Socket inodes a process holds, from the `socket:[N]` links in /proc/PID/fd. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const links = await Promise.all(
    fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
  );
  return new Set(
    links.map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1]).filter((n) => n !== undefined),
  );
}

/**
 * Whether a client holds a connection to one of the kernel's request or heartbeat ports. A
 * spyder kernel connects to its own shell port (its loopback socket), so a peer whose socket
 * belongs to the kernel's python is not a client.
 */
export async function hasClient(
  kernel: Kernel,
  connections: ReadonlyMap<string, TcpConnection>,
): Promise<boolean> {
  const { ip, shell_port, control_port, stdin_port, hb_port } = kernel.connection;
  const ports = [shell_port, control_port, stdin_port, hb_port];
  const peers = ports.flatMap((p) => connections.get(`${ip}:${p}`)?.remote ?? []);
  if (peers.length === 0) return false;

  const own = kernel.kernelPid === null ? new Set<string>() : await socketInodes(kernel.kernelPid);
  return peers.some((peer) => {
    const local = connections.get(peer);
    return local === undefined || !own.has(local.inode);
  });
}

/** The periodic check; start() and stop() bracket its life. */
export class IdleCuller {
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;

  constructor(private readonly options: CullerOptions) {}

  /** How long until the next check: half the timeout, at most a minute (also while disabled). */
  get tickMs(): number {
    const { idleTimeoutMs } = this.options.settings();
    if (idleTimeoutMs <= 0) return MAX_TICK_MS;
    return Math.min(Math.max(Math.floor(idleTimeoutMs / 2), 250), MAX_TICK_MS);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  /** One check of every kernel. */
  async tick(): Promise<void> {
    const { idleTimeoutMs, cullConnected } = this.options.settings();
    if (idleTimeoutMs <= 0) return;

    try {
      const now = Date.now();
      const connections = cullConnected ? new Map() : await establishedConnections();
      for (const kernel of [...this.options.kernels()]) {
        if (kernel.phase !== 'running' || kernel.execution === 'busy') continue;
        if (!cullConnected && (await hasClient(kernel, connections))) {
          kernel.lastActivity = now;
          continue;
        }
        const idleMs = now - kernel.lastActivity;
        if (idleMs < idleTimeoutMs) continue;

        this.options.logger.info({ kernel: kernel.id, user: kernel.user.name, idleMs }, 'culling');
        this.options.cull(kernel).catch(() => undefined);
      }
    } catch (err) {
      this.options.logger.error({ err }, 'idle check failed');
    }
  }
}
