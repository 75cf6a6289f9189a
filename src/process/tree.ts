/**
 * Processes with their owner and command line, read from /proc: how the daemon finds a kernel's
 * own python inside its process group (conda -> bash -> python), and how, after a restart, it
 * finds kernels that a previous daemon started. Only processes that pass a cheap filter on
 * /proc/PID/stat get their status and cmdline read.
 */
import { readdir, readFile } from 'node:fs/promises';
import { readStat, type ProcStat } from './group.js';

/** A live process: its stat fields, real uid and argv. */
export interface ProcInfo extends ProcStat {
  readonly uid: number;
  readonly argv: readonly string[];
}

async function readUid(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^Uid:\s+(\d+)/m.exec(status);
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

async function readArgv(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1);
  } catch {
    return null;
  }
}

/** One process, or null when it is gone or a zombie (a zombie has no cmdline left to match). */
export async function readProcInfo(pid: number, stat?: ProcStat): Promise<ProcInfo | null> {
  const base = stat ?? (await readStat(pid));
  if (base === null || base.state === 'Z') return null;

  const [uid, argv] = await Promise.all([readUid(pid), readArgv(pid)]);
  if (uid === null || argv === null) return null;
  return { ...base, uid, argv };
}

/** Every live process whose stat passes `filter`, with owner and argv. */
export async function scanProcesses(
  filter: (stat: ProcStat) => boolean = () => true,
): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map((pid) => readStat(pid)));
  const wanted = stats.filter((s): s is ProcStat => s !== null && s.state !== 'Z' && filter(s));

  const infos = await Promise.all(wanted.map((s) => readProcInfo(s.pid, s)));
  return infos.filter((info): info is ProcInfo => info !== null);
}

/** The live members of a process group, with owner and argv. */
export function groupMembers(pgid: number): Promise<ProcInfo[]> {
  return scanProcesses((stat) => stat.pgrp === pgid);
}

/** Sends a signal to one process; false when it no longer exists. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`refusing to signal pid ${pid}`);

  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
