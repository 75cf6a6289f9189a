/**
 * The systemd notify protocol (sd_notify(3)): short newline-separated `KEY=VALUE` datagrams such
 * as READY=1, sent to the unix socket that systemd names in $NOTIFY_SOCKET.
 *
 * Node has had no unix datagram sockets since its Windows port (nodejs/node#29339, closed), so the
 * two libc calls go through koffi, which sksd already loads for PAM. Chosen over the alternatives:
 * - `systemd-notify` run as a child sends from another pid, so the unit would need
 *   NotifyAccess=all, and then any process in the service's cgroup (every user's kernel) could
 *   tell systemd the service is stopping or that another pid is the main one. From the main
 *   process itself the unit keeps NotifyAccess=main.
 * - npm packages for this either spawn systemd-notify or compile a native addon at install.
 * Without $NOTIFY_SOCKET (not started by systemd, or Type=exec) every call does nothing.
 */
import { createRequire } from 'node:module';
import type { Logger } from '../log.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
// Close-on-exec: the socket must not leak into kernels spawned as users.
const SOCK_CLOEXEC = 0o2000000;
// Never block the event loop on a full queue: a lost notification beats a stalled daemon.
const MSG_DONTWAIT = 0x40;
const MAX_PATH = 107; // sizeof(sun_path) - 1

/** The libc calls used; loaded once, on first use. */
interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, alen: number): number;
  errno(): number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc !== undefined) return libc;

  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    sendto: lib.func(
      'long sendto(int fd, const void *buf, size_t len, int flags, const void *to, uint32_t n)',
    ),
    errno: () => koffi.errno(),
  };

  return libc;
}

/**
 * A `struct sockaddr_un` for $NOTIFY_SOCKET: an absolute path, or `@name` for the abstract
 * namespace (a leading NUL byte, no terminator). Anything else (systemd 254's `vsock:`) is null.
 */
export function socketAddress(target: string): Buffer | null {
  const abstract = target.startsWith('@');
  if (!abstract && !target.startsWith('/')) return null;

  const path = Buffer.from(abstract ? `\0${target.slice(1)}` : `${target}\0`, 'utf8');
  if (path.length > MAX_PATH + 1 || path.length < 2) return null;

  const address = Buffer.alloc(2 + path.length);
  address.writeUInt16LE(AF_UNIX, 0);
  path.copy(address, 2);
  return address;
}

/** Tells systemd about the daemon's state; every method is a no-op when not under systemd. */
export class SystemdNotifier {
  readonly #address: Buffer | null;
  readonly #log: Logger;
  #fd = -1;
  #warned = false;
  #status = 'serving';

  /** Reads $NOTIFY_SOCKET from env (the process environment unless a test passes its own). */
  constructor(logger: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.#log = logger.child({ component: 'systemd' });
    const target = env['NOTIFY_SOCKET'];
    this.#address = target ? socketAddress(target) : null;
    if (target && this.#address === null) {
      this.#log.warn({ notifySocket: target }, 'NOTIFY_SOCKET is not a unix socket path; ignored');
    }
  }

  /** True when there is a socket to talk to. */
  get enabled(): boolean {
    return this.#address !== null;
  }

  /** Serving (TLS listening, endpoint written, announced); without a status, the last one again. */
  ready(status?: string): boolean {
    if (status !== undefined) this.#status = status;
    return this.send({ READY: '1', STATUS: this.#status });
  }

  /** A reload began; systemd 253+ wants the CLOCK_MONOTONIC time with it (Type=notify-reload). */
  reloading(): boolean {
    const usec = process.hrtime.bigint() / 1000n;
    return this.send({ RELOADING: '1', MONOTONIC_USEC: usec.toString(), STATUS: 'reloading' });
  }

  /**
   * Stopping. The daemon gives kernels up to deadlineMs to end; EXTEND_TIMEOUT_USEC asks systemd
   * not to SIGKILL it before that, when the admin raised kernels.shutdownGrace past the unit's
   * TimeoutStopSec (systemd never shortens the timeout for it).
   */
  stopping(deadlineMs: number): boolean {
    const usec = BigInt(Math.ceil(deadlineMs)) * 1000n;
    return this.send({ STOPPING: '1', EXTEND_TIMEOUT_USEC: usec.toString(), STATUS: 'stopping' });
  }

  /** A free-form line for `systemctl status`. */
  status(text: string): boolean {
    return this.send({ STATUS: text });
  }

  /** Sends one datagram; false (logged once) when it could not be sent. Never throws. */
  send(fields: Readonly<Record<string, string>>): boolean {
    if (this.#address === null) return false;

    // A value is one line; systemd would read a newline inside it as the start of a new field.
    const text = Object.entries(fields)
      .map(([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`)
      .join('\n');

    try {
      const c = loadLibc();
      if (this.#fd < 0) this.#fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (this.#fd < 0) return this.#failed('socket', c.errno());

      const message = Buffer.from(text, 'utf8');
      const to = this.#address;
      const sent = c.sendto(this.#fd, message, message.length, MSG_DONTWAIT, to, to.length);
      if (sent !== message.length) return this.#failed('sendto', c.errno());
    } catch (error) {
      return this.#failed('load', 0, error);
    }

    this.#log.debug({ message: text.replace(/\n/g, ' ') }, 'told systemd');
    return true;
  }

  #failed(call: string, errno: number, err?: unknown): false {
    // Warn once: a daemon whose READY=1 is lost gets killed at TimeoutStartSec, and the log
    // line just before says why.
    if (!this.#warned) this.#log.warn({ call, errno, err }, 'could not notify systemd');
    this.#warned = true;
    return false;
  }
}
