/**
 * Stops a process group with escalation and deadlines: an optional polite step supplied by the
 * caller, then SIGTERM to the group, a grace period, then SIGKILL to the group. Always the group:
 * `conda run` forwards no signal to its child (conda/conda#10351, #11420), so signalling conda's
 * own pid would leave bash and the kernel running as orphans.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { liveMembers, signalGroup } from './group.js';

/** How a group ended: by the polite request, by SIGTERM, by SIGKILL, or before we began. */
export type EndedHow = 'requested' | 'terminated' | 'killed' | 'already_dead';

/** One object describing how a stop went. */
export interface TerminationOutcome {
  readonly how: EndedHow;
  /** The leader's exit code, when a leader was given and exited normally. */
  readonly exitCode: number | null;
  /** The signal that ended the leader, if any. */
  readonly signal: NodeJS.Signals | null;
  readonly durationMs: number;
  /** Members still running after SIGKILL and its wait: normally none (state D, a stuck mount). */
  readonly survivors: readonly number[];
}

/** A caller-supplied first step, e.g. a Jupyter shutdown_request. */
export interface PoliteStep {
  /** Asks the process to exit; resolves true when it acknowledged the request. */
  readonly request: () => Promise<boolean>;
  /** Total time for the polite step, request included. */
  readonly graceMs: number;
  /** Wait after an acknowledgement, when a process is known to acknowledge and not exit. */
  readonly settleMs?: number;
}

/** What to stop and how patiently. */
export interface TerminateOptions {
  /** The process group; the leader's pid for processes from spawnAsUser. */
  readonly pgid: number;
  /** The leader's ChildProcess, to report its exit code and signal. */
  readonly leader?: ChildProcess;
  readonly polite?: PoliteStep;
  readonly termGraceMs: number;
  /** How long to wait for SIGKILL to take effect before reporting survivors. */
  readonly killWaitMs?: number;
  readonly logger: Logger;
}

const POLL_MS = 50;

function leaderRunning(leader: ChildProcess | undefined): boolean {
  return leader !== undefined && leader.exitCode === null && leader.signalCode === null;
}

/** Whether anything of the group still runs; the leader counts until Node has reaped it. */
async function alive(options: TerminateOptions): Promise<boolean> {
  if (leaderRunning(options.leader)) return true;
  return (await liveMembers(options.pgid)).length > 0;
}

/** Polls until the group is gone (true) or the deadline passes (false). */
async function goneBy(options: TerminateOptions, deadline: number): Promise<boolean> {
  for (;;) {
    if (!(await alive(options))) return true;

    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(POLL_MS, left));
  }
}

/** Runs the polite request, bounded by its grace; a failure counts as "not acknowledged". */
async function askPolitely(step: PoliteStep): Promise<boolean> {
  const request = step.request().catch(() => false);
  const timeout = new AbortController();
  const late = sleep(step.graceMs, false, { signal: timeout.signal }).catch(() => false);

  try {
    return await Promise.race([request, late]);
  } finally {
    timeout.abort();
  }
}

/** Waits briefly for Node to reap the leader so its exit code and signal can be reported. */
async function leaderStatus(
  leader: ChildProcess | undefined,
): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }> {
  if (leader === undefined) return { exitCode: null, signal: null };

  if (leaderRunning(leader)) {
    const exited = new Promise((resolve) => leader.once('exit', resolve));
    await Promise.race([exited, sleep(1000)]);
  }
  return { exitCode: leader.exitCode, signal: leader.signalCode };
}

/** Stops the group and reports how it ended. Never throws for a group that is already gone. */
export async function terminateGroup(options: TerminateOptions): Promise<TerminationOutcome> {
  const started = Date.now();
  const log = options.logger.child({ pgid: options.pgid });
  const finish = async (how: EndedHow, survivors: number[] = []): Promise<TerminationOutcome> => {
    const status = await leaderStatus(options.leader);
    return { how, ...status, durationMs: Date.now() - started, survivors };
  };

  if (!(await alive(options))) return finish('already_dead');

  const polite = options.polite;
  if (polite !== undefined) {
    const deadline = started + polite.graceMs;
    const acknowledged = await askPolitely(polite);
    const settle = acknowledged && polite.settleMs !== undefined ? polite.settleMs : Infinity;

    if (await goneBy(options, Math.min(deadline, Date.now() + settle))) return finish('requested');
    log.debug({ acknowledged }, 'still running after the polite request; sending SIGTERM');
  }

  signalGroup(options.pgid, 'SIGTERM');
  if (await goneBy(options, Date.now() + options.termGraceMs)) return finish('terminated');

  log.warn({ graceMs: options.termGraceMs }, 'process group ignored SIGTERM; sending SIGKILL');
  signalGroup(options.pgid, 'SIGKILL');
  await goneBy(options, Date.now() + (options.killWaitMs ?? 2000));

  const survivors = await liveMembers(options.pgid);
  if (survivors.length > 0) log.error({ survivors }, 'processes survived SIGKILL');
  return finish('killed', survivors);
}
