/**
 * Process-group facts read from /proc. A group is alive while any member is not a zombie: PID 1
 * on some hosts (and in containers) reaps orphans slowly, so a killed kernel can linger as state Z
 * long after it stopped running. kill(-pgid, 0) still succeeds for zombies and cannot tell.
 */
import { readdir, readFile } from 'node:fs/promises';

/** One process as /proc/PID/stat describes it. */
export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
}

/** Parses /proc/PID/stat; comm may contain spaces and parentheses, so split after the last ')'. */
export function parseStat(pid: number, text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;

  const fields = text.slice(close + 2).split(' ');
  const [state, ppid, pgrp] = fields;
  if (state === undefined || ppid === undefined || pgrp === undefined) return null;
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/** Reads one process's stat, or null when it is gone. */
export async function readStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(pid, await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Pids of the group's members that are not zombies. */
export async function liveMembers(pgid: number): Promise<number[]> {
  const entries = await readdir('/proc');
  const pids = entries.filter((name) => /^\d+$/.test(name)).map(Number);

  const stats = await Promise.all(pids.map((pid) => readStat(pid)));
  return stats
    .filter((s): s is ProcStat => s !== null && s.pgrp === pgid && s.state !== 'Z')
    .map((s) => s.pid);
}

/** Sends a signal to a whole group; false when no member was left to receive it. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`refusing to signal group ${pgid}`);

  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
