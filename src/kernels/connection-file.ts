/**
 * The connection file, written by the daemon itself: it picks the ports and the key, so the key
 * never appears on a command line and a restart can reuse the same connection. A kernel started
 * with `-f FILE` for an existing file binds exactly those ports and uses that key.
 *
 * Files live in RUNTIME/kernels/<user>, a directory owned by the user: the kernel (as the user)
 * must read the file, and jupyter_client sets the sticky bit on the parent of a file it writes,
 * so each user gets a directory of their own. The daemon is root writing into a user-owned
 * directory, so every file is created with O_EXCL|O_NOFOLLOW: a planted symlink makes it fail.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { UserAccount } from '../auth/users.js';
import { ConnectionInfo } from '../rpc/methods.js';
import { allocateInRange, type PortRange } from './port-range.js';

/**
 * kernel_name in every connection file. No kernelspec of that name exists; clients only display
 * it. The environment travels next to the connection object in the reply, never inside it.
 */
export const KERNEL_NAME = 'spyder-kernel';

const CREATE_EXCL = constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The port fields of a connection file, in the order allocatePorts fills them. */
const PORT_FIELDS = ['shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'] as const;

async function ensureDir(path: string, mode: number, owner: { uid: number; gid: number }) {
  await mkdir(path, { mode }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });

  const info = await lstat(path);
  if (!info.isDirectory()) throw new Error(`${path} exists and is not a directory`);
  if (info.uid !== owner.uid || info.gid !== owner.gid) await chown(path, owner.uid, owner.gid);
  await chmod(path, mode);
}

/**
 * Creates RUNTIME/kernels (0711, daemon's) and RUNTIME/kernels/<user> (0700, the user's) and
 * returns the latter. RUNTIME itself must be searchable by users (at least 0711).
 */
export async function ensureUserDir(runtimeDir: string, user: UserAccount): Promise<string> {
  if (user.name.includes('/') || user.name.startsWith('.')) {
    throw new Error(`user name ${JSON.stringify(user.name)} cannot name a directory`);
  }

  // A kernel as another user must traverse RUNTIME to read its file; otherwise every start
  // fails later with a bare "Permission denied" in the kernel's log.
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  if (user.uid !== self.uid && ((await stat(runtimeDir)).mode & 0o001) === 0) {
    throw new Error(`${runtimeDir} must be searchable by users (mode 0711 or 0755)`);
  }
  const kernels = join(runtimeDir, 'kernels');
  await ensureDir(kernels, 0o711, self);

  const dir = join(kernels, user.name);
  await ensureDir(dir, 0o700, { uid: user.uid, gid: user.gid });
  return dir;
}

/** Where a kernel's ports come from: kernels.portRange (null: any free port) minus busy ones. */
export interface PortChoice {
  readonly range: PortRange | null;
  /** Ports of the kernels the manager knows, which may be unbound during a restart. */
  readonly busy: ReadonlySet<number>;
}

/** Ports handed out recently, by port, with when: not handed out again for a while. */
const recentPorts = new Map<number, number>();
const RECENT_PORT_MS = 60_000;

/**
 * Finds `count` free TCP ports on ip by binding port 0, holding all of them at once so they
 * differ, and skipping ports handed out in the last minute (kernels being started have not bound
 * theirs yet). Another process may still take one before the kernel binds it; the kernel then
 * fails with "Address already in use" and the manager starts it again on fresh ports. With a
 * range, a recent port is only put last (port-range.ts): a small range must reuse ports at once.
 */
export async function allocatePorts(
  ip: string,
  count: number,
  choice: PortChoice = { range: null, busy: new Set() },
): Promise<number[]> {
  const now = Date.now();
  for (const [port, at] of recentPorts) if (now - at > RECENT_PORT_MS) recentPorts.delete(port);
  if (choice.range !== null) {
    const ports = await allocateInRange(ip, count, choice.range, choice.busy, recentPorts);
    for (const port of ports) recentPorts.set(port, now);
    return ports;
  }

  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    // Bounded: a skipped port stays bound meanwhile, so the kernel never offers it twice.
    for (let tries = 0; ports.length < count && tries < count * 20; tries++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: ip, port: 0, exclusive: true }, resolve);
      });
      const { port } = server.address() as { port: number };
      if (!recentPorts.has(port) && !choice.busy.has(port)) ports.push(port);
    }
    if (ports.length < count) throw new Error(`no ${count} free ports on ${ip}`);
    for (const port of ports) recentPorts.set(port, now);
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** The five ports of a connection object. */
export function connectionPorts(info: ConnectionInfo): number[] {
  return PORT_FIELDS.map((field) => info[field]);
}

/** A fresh HMAC key: 32 random bytes as 64 hex characters. */
export function newKey(): string {
  return randomBytes(32).toString('hex');
}

/** A complete connection object for ip with fresh ports and key; validated by the wire schema. */
export async function newConnection(ip: string, choice?: PortChoice): Promise<ConnectionInfo> {
  const ports = await allocatePorts(ip, PORT_FIELDS.length, choice);
  const entries = PORT_FIELDS.map((field, i) => [field, ports[i]]);

  return ConnectionInfo.parse({
    ...Object.fromEntries(entries),
    ip,
    key: newKey(),
    transport: 'tcp',
    signature_scheme: 'hmac-sha256',
    kernel_name: KERNEL_NAME,
  });
}

/** Creates a new file owned by the user, mode 0600; fails if anything exists at path. */
export async function createUserFile(
  path: string,
  user: UserAccount,
  flags: number = constants.O_WRONLY,
): Promise<FileHandle> {
  const handle = await open(path, flags | CREATE_EXCL, 0o600);
  try {
    await handle.chown(user.uid, user.gid);
    await handle.chmod(0o600);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Writes the connection file at path (which must not exist yet) for the user. */
export async function writeConnectionFile(
  path: string,
  info: ConnectionInfo,
  user: UserAccount,
): Promise<void> {
  const handle = await createUserFile(path, user);
  try {
    await handle.writeFile(`${JSON.stringify(info, null, 1)}\n`);
  } finally {
    await handle.close();
  }
}

/** Removes a file, ignoring one that is already gone. unlink never follows a symlink. */
export async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
