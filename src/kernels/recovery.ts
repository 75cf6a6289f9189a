/**
 * What a starting daemon does with the kernels of the previous one. Each record of the state file
 * is matched to live processes by the connection file path in their argv (conda's and the
 * kernel's), never by pid alone: pids are reused, and a record saved just before a spawn has no
 * pid yet. With kernels.onDaemonStop = keep, a kernel whose python still runs is adopted; every
 * other match is stopped. Then a sweep stops any process that runs a kernel from this runtime
 * directory and was not adopted, and removes kernel files nobody owns, so a lost or damaged state
 * file leaves nothing behind either.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { UserAccount } from '../auth/users.js';
import type { Logger } from '../log.js';
import { readStat } from '../process/group.js';
import { terminateGroup } from '../process/terminate.js';
import { scanProcesses, type ProcInfo } from '../process/tree.js';
import { removeFile } from './connection-file.js';
import { isKernelArgv, Kernel } from './kernel.js';
import { openKernelLog, readTail } from './log-file.js';
import type { KernelRecord } from './state-file.js';

/** Inputs of a recovery. */
export interface RecoveryOptions {
  readonly records: readonly KernelRecord[];
  /** true: adopt live kernels (policy keep); false: stop them all (policy stop). */
  readonly adopt: boolean;
  readonly runtimeDir: string;
  readonly termGraceMs: number;
  readonly lookupUser: (name: string) => Promise<UserAccount | null>;
  readonly logger: Logger;
}

/** Kernels adopted, and kernels found dead that clients should see once. */
export interface Recovered {
  readonly adopted: Kernel[];
  readonly lost: Kernel[];
}

const KERNEL_FILE = /^kernel-[A-Za-z0-9_-]+\.(json|log)$/;

function fromRecord(record: KernelRecord, user: UserAccount): Kernel {
  const kernel = new Kernel(
    record.id,
    user,
    record.env,
    record.prefix,
    record.cwd,
    record.spyderKernels,
    record.connection,
    record.files,
    new Date(record.startedAt),
  );
  kernel.restarts = record.restarts;
  kernel.ready = record.ready;
  return kernel;
}

/** The topmost kernel python among processes that name this connection file. */
function kernelProcess(matches: readonly ProcInfo[], file: string): ProcInfo | undefined {
  const kernels = matches.filter((p) => isKernelArgv(p.argv, file));
  const pids = new Set(kernels.map((p) => p.pid));
  return kernels.find((p) => !pids.has(p.ppid));
}

/** Tries to adopt a record; returns the kernel, or null when it must be stopped instead. */
async function adoptOne(
  record: KernelRecord,
  user: UserAccount | null,
  python: ProcInfo | undefined,
): Promise<Kernel | null> {
  if (user === null || python === undefined || !record.ready) return null;

  const log = await openKernelLog(record.files.log, user);
  if (log === null) return null;
  const kernel = fromRecord(record, user);
  kernel.process = { pgid: python.pgrp, child: null, exited: false, exitCode: null, signal: null };
  kernel.kernelPid = python.pid;
  kernel.log = log;
  kernel.phase = 'running';
  return kernel;
}

/** A kernel that died while no daemon watched it, with the tail of its log. */
async function lostOne(record: KernelRecord, user: UserAccount): Promise<Kernel> {
  const kernel = fromRecord(record, user);
  const log = await openKernelLog(record.files.log, user);
  const logTail = log === null ? [] : await readTail(log).finally(() => log.close());
  kernel.phase = 'dead';
  kernel.exit = {
    reason: 'lost',
    exitCode: null,
    signal: null,
    at: new Date().toISOString(),
    logTail,
  };
  return kernel;
}

/** Adopts or stops the previous daemon's kernels, then sweeps; see the module comment. */
export async function recoverKernels(options: RecoveryOptions): Promise<Recovered> {
  const { logger } = options;
  const root = join(options.runtimeDir, 'kernels');
  const processes = await scanProcesses();
  const adopted: Kernel[] = [];
  const lost: Kernel[] = [];
  const doomed = new Set<number>();

  for (const record of options.records) {
    const file = record.files.connection;
    const matches = processes.filter((p) => p.uid === record.user.uid && p.argv.includes(file));
    const found = await options.lookupUser(record.user.name);
    const user = found !== null && found.uid === record.user.uid ? found : null;
    const python = kernelProcess(matches, file);

    const kernel = options.adopt ? await adoptOne(record, user, python) : null;
    if (kernel !== null) {
      adopted.push(kernel);
      logger.info(
        { kernel: kernel.id, user: kernel.user.name, pgid: kernel.process?.pgid },
        'adopted',
      );
      continue;
    }

    for (const p of matches) doomed.add(p.pgrp);
    if (options.adopt && python === undefined && user !== null && record.ready) {
      lost.push(await lostOne(record, user));
    }
    logger.info(
      { kernel: record.id, user: record.user.name, running: matches.length > 0 },
      'not adopted',
    );
  }

  const claimed = new Set(adopted.map((k) => k.files.connection));
  for (const p of await orphans(processes, root, claimed)) doomed.add(p.pgrp);
  await stopGroups(doomed, options);
  await removeStaleFiles(root, new Set(adopted.flatMap((k) => [k.files.connection, k.files.log])));
  return { adopted, lost };
}

/**
 * Processes that name a connection file under RUNTIME/kernels/<user>/ that no adopted kernel
 * owns, run by the owner of that directory: a user cannot get another user's process stopped by
 * naming a path in its own command line.
 */
async function orphans(
  processes: readonly ProcInfo[],
  root: string,
  claimed: ReadonlySet<string>,
): Promise<ProcInfo[]> {
  const owners = new Map<string, number | null>();
  const ownerOf = async (dir: string): Promise<number | null> => {
    if (!owners.has(dir))
      owners.set(
        dir,
        await stat(dir).then(
          (s) => s.uid,
          () => null,
        ),
      );
    return owners.get(dir) ?? null;
  };

  const found: ProcInfo[] = [];
  for (const p of processes) {
    const file = p.argv.find((a) => a.startsWith(`${root}/`) && a.endsWith('.json'));
    if (file === undefined || claimed.has(file)) continue;

    const dir = file.slice(0, file.lastIndexOf('/'));
    if ((await ownerOf(dir)) === p.uid) found.push(p);
  }
  return found;
}

async function stopGroups(groups: ReadonlySet<number>, options: RecoveryOptions): Promise<void> {
  const own = (await readStat(process.pid))?.pgrp;
  const targets = [...groups].filter((pgid) => pgid > 1 && pgid !== own);
  await Promise.all(
    targets.map(async (pgid) => {
      const outcome = await terminateGroup({
        pgid,
        termGraceMs: options.termGraceMs,
        logger: options.logger,
      });
      options.logger.warn({ pgid, how: outcome.how }, 'stopped a kernel left by a previous daemon');
    }),
  );
}

/** Removes kernel-*.json and kernel-*.log in every user directory unless `keep` names them. */
async function removeStaleFiles(root: string, keep: ReadonlySet<string>): Promise<void> {
  const users = await readdir(root).catch(() => [] as string[]);
  for (const user of users) {
    const dir = join(root, user);
    const entries = await readdir(dir).catch(() => [] as string[]);
    const stale = entries.filter((e) => KERNEL_FILE.test(e) && !keep.has(join(dir, e)));
    await Promise.all(stale.map((e) => removeFile(join(dir, e)).catch(() => undefined)));
  }
}
