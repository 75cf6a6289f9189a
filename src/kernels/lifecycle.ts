/**
 * The kernels a manager holds and every transition between their phases: ready, restart, exit,
 * stop (the one path to `dead`), adoption and detaching. Each transition is followed by a save of
 * the state file and a 'state' event; a kernel that ended without being asked keeps its exit
 * (code, signal, log tail) in the recently-dead list.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { UserAccount } from '../auth/users.js';
import type { CondaExecutable } from '../conda/locate.js';
import type { Logger } from '../log.js';
import type { KernelExit } from '../rpc/methods.js';
import { SksdError } from '../rpc/errors.js';
import { terminateGroup, type TerminationOutcome } from '../process/terminate.js';
import { requestShutdown } from './client.js';
import { removeFile } from './connection-file.js';
import { awaitGeneration, findKernelPid, isKernelPid, signalFromExitCode } from './generation.js';
import { spawnGeneration } from './generation.js';
import type { Kernel, KernelEvent, KernelProcess, StopReason } from './kernel.js';
import { appendLogLine, readTail } from './log-file.js';
import { IopubMonitor, type IopubEvent } from './monitor.js';
import { RecentlyDead } from './recently-dead.js';
import type { KernelStateFile } from './state-file.js';

/** The settings the lifecycle uses. */
export interface LifecycleOptions {
  readonly startTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly logger: Logger;
}

// spyder-kernels 2.4.2 answers shutdown_request and then never exits (a non-daemon comm thread);
// plain ipykernel exits about 0.1 s after its reply. One second after a reply is plenty.
const SETTLE_AFTER_REPLY_MS = 1000;
// Twice ZeroMQ's default reconnect interval (ZMQ_RECONNECT_IVL, 100 ms), which Jupyter clients keep.
const RECONNECT_GRACE_MS = 250;
// How often adopted kernels, which are not our children, are checked for having exited.
const ADOPTED_POLL_MS = 1000;
const VISIBLE: ReadonlySet<StopReason> = new Set(['exited', 'culled', 'restart_failed', 'lost']);

/** Kernels by id and their transitions; owned by one KernelManager. */
export class KernelLifecycle {
  readonly kernels = new Map<string, Kernel>();
  private readonly dead = new RecentlyDead();
  private poller: NodeJS.Timeout | null = null;
  closing = false;
  private detached = false;

  constructor(
    private readonly options: LifecycleOptions,
    readonly store: KernelStateFile | null,
    private readonly emit: (event: KernelEvent) => void,
  ) {}

  register(kernel: Kernel): void {
    this.kernels.set(kernel.id, kernel);
    this.emitState(kernel);
  }

  /** The user's kernel of that id, live; unknown_kernel for anyone else's, on purpose. */
  owned(user: UserAccount, id: string): Kernel {
    const kernel = this.kernels.get(id);
    if (kernel === undefined || !kernel.ownedBy(user)) throw new SksdError('unknown_kernel');
    return kernel;
  }

  assertRunning(kernel: Kernel): void {
    if (kernel.phase === 'running') return;
    throw new SksdError('kernel_not_running', { data: { state: kernel.state } });
  }

  listed(user: UserAccount): Kernel[] {
    const live = [...this.kernels.values()].filter((k) => k.ownedBy(user));
    return [...live, ...this.dead.list(user)];
  }

  forgetDead(user: UserAccount, id: string): Kernel | undefined {
    return this.dead.take(user, id);
  }

  /** Saves every kernel that is not dead. */
  async persist(): Promise<void> {
    // After detachAll the file belongs to the next daemon.
    if (this.detached) return;
    const records = [...this.kernels.values()]
      .filter((k) => k.phase !== 'dead')
      .map((k) => k.record());
    await this.store?.save(records);
  }

  /** persist() where nothing waits for it; a failure is logged. */
  persistSoon(): void {
    this.persist().catch((err: unknown) =>
      this.options.logger.error({ err }, 'state file not saved'),
    );
  }

  /** Waits for a new kernel's first answer; stops it and throws kernel_start_failed otherwise. */
  async awaitStart(kernel: Kernel, deadline: number, prepareMs = 0): Promise<void> {
    const generation = kernel.process as KernelProcess;
    const started = Date.now();
    const ok = await awaitGeneration(
      kernel,
      generation,
      deadline,
      () => kernel.phase !== 'starting',
    );
    const log = this.options.logger.child({ user: kernel.user.name, kernel: kernel.id });
    if (ok) {
      await this.becomeRunning(kernel);
      log.info(
        { env: kernel.prefix, pid: generation.pgid, prepareMs, readyMs: Date.now() - started },
        'kernel started',
      );
      return;
    }

    const stoppedElsewhere = kernel.stopping !== null;
    await this.stop(kernel, 'start_failed', false);
    if (stoppedElsewhere && this.closing) throw new SksdError('shutting_down');

    const reason = generation.exited ? 'exited before answering' : 'no kernel_info_reply in time';
    log.warn({ env: kernel.prefix, reason }, 'kernel failed to start');
    throw new SksdError('kernel_start_failed', {
      data: { stderrTail: kernel.finalTail.join('\n') },
      logDetail: `${kernel.user.name}: ${kernel.prefix}: ${reason}`,
    });
  }

  private async becomeRunning(kernel: Kernel): Promise<void> {
    kernel.phase = 'running';
    kernel.ready = true;
    kernel.execution = 'idle';
    kernel.lastActivity = Date.now();
    kernel.kernelPid = await findKernelPid(kernel);
    this.watch(kernel);
    this.emitState(kernel);
    // Awaited: once the client has its answer, a daemon killed at once must still adopt it.
    await this.persist().catch((err: unknown) => {
      this.options.logger.error({ err, kernel: kernel.id }, 'state file not saved');
    });
  }

  /** Subscribes to the kernel's IOPub once; the subscription survives restarts. */
  private watch(kernel: Kernel): void {
    if (kernel.monitor !== null) return;

    const logger = this.options.logger.child({ kernel: kernel.id });
    kernel.monitor = new IopubMonitor(kernel.connection, (e) => this.onIopub(kernel, e), logger);
    kernel.monitor.start();
  }

  private onIopub(kernel: Kernel, event: IopubEvent): void {
    if (event.clientActivity) kernel.lastActivity = Date.now();
    if (kernel.phase !== 'running') return;

    const state = event.executionState;
    if (state === 'busy' || state === 'idle') kernel.execution = state;
  }

  /** A generation's leader exited. Only a running kernel's current generation is news here. */
  onExit(kernel: Kernel, generation: KernelProcess): void {
    if (this.detached || kernel.process !== generation || kernel.phase !== 'running') return;

    const { exitCode } = generation;
    const signal = generation.signal ?? signalFromExitCode(exitCode);
    const log = this.options.logger.child({ user: kernel.user.name, kernel: kernel.id });
    // conda may have died alone (bash and python then run on as orphans): stop the whole group.
    log.warn({ exitCode, signal }, 'kernel exited on its own');
    this.stop(kernel, 'exited', false, { exitCode, signal }).catch((err: unknown) =>
      log.error({ err }, 'cleanup failed'),
    );
  }

  /** Stops a kernel once; every caller gets the same outcome. */
  stop(
    kernel: Kernel,
    reason: StopReason,
    polite: boolean,
    status?: { exitCode: number | null; signal: string | null },
  ): Promise<TerminationOutcome> {
    if (kernel.stopping !== null) return kernel.stopping;

    const wasRunning = kernel.phase === 'running';
    kernel.phase = 'stopping';
    this.emitState(kernel);
    kernel.stopping = this.terminate(kernel, reason, polite && wasRunning, status);
    return kernel.stopping;
  }

  private async terminate(
    kernel: Kernel,
    reason: StopReason,
    polite: boolean,
    status?: { exitCode: number | null; signal: string | null },
  ): Promise<TerminationOutcome> {
    const graceMs = this.options.shutdownGraceMs;
    const logger = this.options.logger.child({ user: kernel.user.name, kernel: kernel.id });
    kernel.monitor?.close();
    kernel.monitor = null;

    const outcome = await this.terminateGeneration(kernel, polite, false);
    kernel.finalTail = kernel.log === null ? [] : await readTail(kernel.log).catch(() => []);
    await kernel.log?.close().catch(() => undefined);
    kernel.log = null;
    // The directory is the user's: a file they replaced by a directory must not wedge the state.
    await Promise.all([removeFile(kernel.files.connection), removeFile(kernel.files.log)]).catch(
      (err: unknown) => logger.warn({ err }, 'could not remove kernel files'),
    );

    kernel.phase = 'dead';
    this.kernels.delete(kernel.id);
    if (VISIBLE.has(reason)) {
      const exitCode = status?.exitCode ?? outcome.exitCode;
      const signal = status?.signal ?? outcome.signal ?? signalFromExitCode(exitCode);
      const at = new Date().toISOString();
      const exitReason = reason as KernelExit['reason'];
      kernel.exit = { reason: exitReason, exitCode, signal, at, logTail: kernel.finalTail };
      this.dead.remember(kernel);
    }
    await this.persist().catch((err: unknown) => logger.error({ err }, 'state file not saved'));
    this.emitState(kernel);
    logger.info({ outcome, reason }, 'kernel stopped');
    return outcome;
  }

  /** Ends the kernel's current generation; `restart` goes into the polite request. */
  private async terminateGeneration(
    kernel: Kernel,
    polite: boolean,
    restart: boolean,
  ): Promise<TerminationOutcome> {
    const generation = kernel.process;
    if (generation === null) {
      return { how: 'already_dead', exitCode: null, signal: null, durationMs: 0, survivors: [] };
    }

    const graceMs = this.options.shutdownGraceMs;
    const request = () => requestShutdown(kernel.connection, Date.now() + graceMs, restart);
    return terminateGroup({
      pgid: generation.pgid,
      leader: generation.child ?? undefined,
      polite: polite ? { request, graceMs, settleMs: SETTLE_AFTER_REPLY_MS } : undefined,
      termGraceMs: graceMs,
      logger: this.options.logger.child({ kernel: kernel.id }),
    });
  }

  /**
   * Restarts a running kernel: the old generation is shut down as by kernels.shutdown, then a new
   * one starts from the same connection file, so clients keep their ports and key. A stop that
   * arrives meanwhile wins; a new generation that does not answer makes the kernel dead.
   */
  async restart(kernel: Kernel, conda: CondaExecutable): Promise<void> {
    kernel.phase = 'restarting';
    kernel.execution = null;
    this.emitState(kernel);
    const gone = () => new SksdError('kernel_not_running', { data: { state: kernel.state } });

    await this.terminateGeneration(kernel, true, true);
    if (kernel.phase !== 'restarting') throw gone();
    kernel.kernelPid = null;

    let generation: KernelProcess;
    try {
      if (kernel.log === null) throw new SksdError('kernel_start_failed', { logDetail: 'no log' });
      await appendLogLine(kernel.log, `restarted at ${new Date().toISOString()}`);
      generation = await spawnGeneration(kernel, conda, (g) => this.onExit(kernel, g));
    } catch (error) {
      await this.stop(kernel, 'restart_failed', false);
      throw error;
    }
    kernel.process = generation;
    this.persistSoon();

    const deadline = Date.now() + this.options.startTimeoutMs;
    if (await awaitGeneration(kernel, generation, deadline, () => kernel.phase !== 'restarting')) {
      // Connected clients find the new kernel on their next reconnect attempt; a reply before
      // then lets them send code whose IOPub output goes out before they listen again.
      await sleep(RECONNECT_GRACE_MS);
      kernel.restarts += 1;
      await this.becomeRunning(kernel);
      return;
    }
    if (kernel.phase !== 'restarting') throw gone();

    const signal = generation.signal ?? signalFromExitCode(generation.exitCode);
    await this.stop(kernel, 'restart_failed', false, { exitCode: generation.exitCode, signal });
    throw new SksdError('kernel_start_failed', {
      data: { stderrTail: kernel.finalTail.join('\n') },
      logDetail: `${kernel.user.name}: ${kernel.prefix}: restart did not answer`,
    });
  }

  /** Takes over kernels from a previous daemon (adopted) and lists those found dead (lost). */
  async adopt(adopted: readonly Kernel[], lost: readonly Kernel[]): Promise<void> {
    for (const kernel of lost) this.dead.remember(kernel);
    for (const kernel of adopted) {
      this.kernels.set(kernel.id, kernel);
      kernel.lastActivity = Date.now();
      this.watch(kernel);
      this.emitState(kernel);
    }
    await this.persist();
    this.poller = setInterval(() => void this.pollAdopted(), ADOPTED_POLL_MS);
    this.poller.unref();
  }

  /** Adopted kernels are not our children: no 'exit' event, so their python is looked for. */
  private async pollAdopted(): Promise<void> {
    for (const kernel of [...this.kernels.values()]) {
      const generation = kernel.process;
      if (generation === null || generation.child !== null || kernel.phase !== 'running') continue;
      if (kernel.kernelPid !== null && (await isKernelPid(kernel, kernel.kernelPid))) continue;

      generation.exited = true;
      this.onExit(kernel, generation);
    }
  }

  /** Stops every kernel (policy stop); starts in flight are awaited. */
  async stopAll(starting: readonly Promise<unknown>[]): Promise<void> {
    this.closing = true;
    this.stopPolling();
    const stops = [...this.kernels.values()].map((k) => this.stop(k, 'daemon_stopped', true));
    await Promise.allSettled([...stops, ...starting]);
    await this.persist();
  }

  /**
   * Leaves running kernels to the next daemon (policy keep): starts in flight are stopped (their
   * callers got shutting_down), restarts are awaited, then the daemon lets go of everything.
   */
  async detachAll(starting: readonly Promise<unknown>[]): Promise<void> {
    this.closing = true;
    this.stopPolling();
    const all = [...this.kernels.values()];
    const stops = all
      .filter((k) => k.phase === 'starting')
      .map((k) => this.stop(k, 'daemon_stopped', false));
    // Restarts and stops already under way finish first, so the file records how they ended.
    const restarts = all.map((k) => k.restarting).filter((r) => r !== null);
    const ending = all.map((k) => k.stopping).filter((r) => r !== null);
    await Promise.allSettled([...stops, ...starting, ...restarts, ...ending]);

    await this.persist();
    this.detached = true;
    for (const kernel of this.kernels.values()) {
      kernel.monitor?.close();
      kernel.monitor = null;
      // Node would otherwise wait for the children before the daemon's process can exit.
      kernel.process?.child?.unref();
      await kernel.log?.close().catch(() => undefined);
      kernel.log = null;
    }
    const kept = this.kernels.size;
    this.kernels.clear();
    this.options.logger.info({ kept }, 'kernels left running for the next daemon');
  }

  private stopPolling(): void {
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
  }

  private emitState(kernel: Kernel): void {
    const event = { id: kernel.id, user: kernel.user.name, env: kernel.env, state: kernel.state };
    this.emit(kernel.exit === null ? event : { ...event, exit: kernel.exit });
  }
}
