/**
 * A kernel's stdout and stderr go to a per-kernel log in the user's runtime directory. The daemon
 * keeps its own descriptor of that file and reads the tail through it, never through the path:
 * the directory belongs to the user, who could otherwise swap the file for a symlink to a file
 * only root may read and receive its tail in the error.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { UserAccount } from '../auth/users.js';
import { createUserFile } from './connection-file.js';

/** Lines of the log returned to the user when a kernel fails to start. */
export const TAIL_LINES = 20;

/** Upper bound on what is read for the tail, so a flood of output costs nothing. */
const TAIL_BYTES = 16 * 1024;

/** Creates the log (owned by the user, 0600); its fd goes to the kernel as stdout and stderr. */
export async function createKernelLog(path: string, user: UserAccount): Promise<FileHandle> {
  return createUserFile(path, user, constants.O_RDWR | constants.O_APPEND);
}

/** The last lines written to the log, read through the daemon's descriptor. */
export async function readTail(handle: FileHandle, lines: number = TAIL_LINES): Promise<string[]> {
  const { size } = await handle.stat();
  const length = Math.min(size, TAIL_BYTES);
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, size - length);

  const text = buffer.subarray(0, bytesRead).toString('utf8');
  const all = text.split('\n').map((line) => line.replace(/\s+$/, ''));
  // The first line may be cut in the middle when the window did not start at a line boundary.
  if (length < size) all.shift();
  while (all.length > 0 && all[all.length - 1] === '') all.pop();
  return all.slice(-lines);
}

/**
 * Opens the log of a kernel the daemon did not create in this run (adopted after a restart), for
 * reading the tail and for a new generation's output. The directory belongs to the user, so the
 * file must be a regular file they own with one link, reached without a symlink: otherwise the
 * user could make root read or append to a file of someone else. Null when it is not.
 */
export async function openKernelLog(path: string, user: UserAccount): Promise<FileHandle | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW);
  } catch {
    return null;
  }

  const info = await handle.stat();
  if (info.isFile() && info.uid === user.uid && info.nlink === 1) return handle;
  await handle.close();
  return null;
}

/** Appends a line of sksd's own to a kernel's log, e.g. where a restart happened. */
export async function appendLogLine(handle: FileHandle, text: string): Promise<void> {
  await handle.appendFile(`--- sksd: ${text} ---\n`);
}
