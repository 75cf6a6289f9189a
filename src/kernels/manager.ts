/**
 * Starts, lists, interrupts, restarts and stops Spyder kernels for authenticated users. A kernel is
 * `conda run -p PREFIX python -m spyder_kernels.console -f FILE` started as the user through
 * spawnAsUser, in its own process group, with a connection file the daemon wrote; it counts as
 * started once it answers kernel_info_request with our key. Every kernel is in the state file
 * before any of its processes exists and leaves it only after they are gone (state-file.ts).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { lookupUser, type UserAccount } from '../auth/users.js';
import type { KernelSummary } from '../rpc/methods.js';
import { SksdError } from '../rpc/errors.js';
import type { CondaExecutable } from '../conda/locate.js';
import { resolveEnv } from '../conda/envs.js';
import { assertCwdAllowed } from '../process/run-as-user.js';
import { signalProcess } from '../process/tree.js';
import {
  connectionPorts,
  ensureUserDir,
  newConnection,
  removeFile,
  writeConnectionFile,
} from './connection-file.js';
import { createKernelLog } from './log-file.js';
import { Kernel, type KernelEvent, type ShutdownResult } from './kernel.js';
import type { StartRequest, StartResult } from './kernel.js';
import { KernelStateFile } from './state-file.js';
import { IdleCuller } from './culler.js';
import { EnvCache } from './env-cache.js';
import { findKernelPid, isKernelPid, spawnGeneration } from './generation.js';
import { KernelLifecycle } from './lifecycle.js';
import { recoverKernels } from './recovery.js';
import { assertCompatible } from './spyder-check.js';
import type { PortRange } from './port-range.js';

export type { KernelEvent, ShutdownResult, StartRequest, StartResult } from './kernel.js';

/** How the manager is set up; the daemon maps config seconds to milliseconds. */
export interface KernelManagerOptions {
  /** Resolves the conda executable per start, so a later installed conda is found; null: none. */
  readonly conda: () => Promise<CondaExecutable | null>;
  /** The daemon's runtime directory; kernels live in RUNTIME/kernels/<user>. */
  readonly runtimeDir: string;
  readonly startTimeoutMs: number;
  /** Grace after the shutdown request, then after SIGTERM, before SIGKILL. */
  readonly shutdownGraceMs: number;
  readonly perUser: number;
  /** Kernels of all users together; unlimited when omitted. */
  readonly total?: number;
  /** Idle culling after this long without client activity; 0 or omitted: never. */
  readonly idleTimeoutMs?: number;
  readonly cullConnected?: boolean;
  /** kernels.portRange: the five connection-file ports come from it; null or omitted: any. */
  readonly portRange?: PortRange | null;
  /** kernels.onDaemonStop: stop every kernel at close(), or keep them for the next daemon. */
  readonly onDaemonStop?: 'stop' | 'keep';
  /** STATE/kernels.json; omitted: nothing is persisted and recover() does nothing. */
  readonly stateFile?: string;
  /** Looks accounts up for adopted kernels; NSS by default. */
  readonly lookupUser?: (name: string) => Promise<UserAccount | null>;
  readonly logger: Logger;
}

/** Starts tried in all when a kernel's port was taken before it could bind it. */
const PORT_ATTEMPTS = 3;

function portTaken(error: unknown): boolean {
  if (!(error instanceof SksdError) || error.errorName !== 'kernel_start_failed') return false;
  return String(error.data?.['stderrTail'] ?? '').includes('Address already in use');
}

/** All kernels of this daemon. One instance per daemon; not safe to share across processes. */
export class KernelManager extends EventEmitter<{ state: [KernelEvent] }> {
  private readonly life: KernelLifecycle;
  /** Starts in progress per uid and in total, counted before anything is spawned. */
  private readonly reserved = new Map<number, number>();
  private reservedTotal = 0;
  private readonly starting = new Set<Promise<unknown>>();
  private readonly culler: IdleCuller;
  private readonly envs = new EnvCache();

  constructor(private readonly options: KernelManagerOptions) {
    super();
    const store =
      options.stateFile === undefined
        ? null
        : new KernelStateFile(options.stateFile, options.logger);
    this.life = new KernelLifecycle(options, store, (event) => this.emitState(event));
    this.culler = new IdleCuller({
      settings: () => ({
        idleTimeoutMs: options.idleTimeoutMs ?? 0,
        cullConnected: options.cullConnected ?? false,
      }),
      kernels: () => this.life.kernels.values(),
      cull: (kernel) => this.life.stop(kernel, 'culled', true),
      logger: options.logger,
    });
    this.culler.start();
  }

  /** Starts a kernel for the user and resolves once it answers; see the module comment. */
  async start(request: StartRequest): Promise<StartResult> {
    if (this.life.closing) throw new SksdError('shutting_down');

    const run = this.startWithRetry(request);
    this.starting.add(run);
    try {
      return await run;
    } finally {
      this.starting.delete(run);
    }
  }

  /**
   * A port from the connection file can be taken between its allocation and the kernel's bind
   * (by another kernel's own ports, or any connect() from the ephemeral range): the kernel then
   * dies with "Address already in use". That start is repeated on fresh ports; the client never
   * sees the first attempt.
   */
  private async startWithRetry(request: StartRequest): Promise<StartResult> {
    for (let attempt = 1; ; attempt += 1) {
      const reservation = this.reserve(request.user);
      try {
        return await this.launch(request, reservation.release);
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !portTaken(error) || this.life.closing) throw error;
        const user = request.user.name;
        this.options.logger.warn(
          { user, attempt },
          'a kernel port was taken; retrying on new ports',
        );
      } finally {
        reservation.release();
      }
    }
  }

  /** Counts a start against the limits from now until release(), which may be called twice. */
  private reserve(user: UserAccount): { release: () => void } {
    this.checkLimits(user);
    this.adjustReserved(user, +1);
    let held = true;
    const release = () => {
      if (held) this.adjustReserved(user, -1);
      held = false;
    };
    return { release };
  }

  private checkLimits(user: UserAccount): void {
    const live = [...this.life.kernels.values()];
    const mine = live.filter((k) => k.ownedBy(user)).length + (this.reserved.get(user.uid) ?? 0);
    if (mine >= this.options.perUser) {
      throw new SksdError('limit_reached', {
        data: { scope: 'user', limit: this.options.perUser },
      });
    }

    const total = this.options.total ?? Infinity;
    if (live.length + this.reservedTotal >= total) {
      throw new SksdError('limit_reached', { data: { scope: 'total', limit: total } });
    }
  }

  private adjustReserved(user: UserAccount, delta: number): void {
    this.reserved.set(user.uid, (this.reserved.get(user.uid) ?? 0) + delta);
    this.reservedTotal += delta;
  }

  private async launch(request: StartRequest, release: () => void): Promise<StartResult> {
    const { user, address } = request;
    if (address === '0.0.0.0') throw new Error('a kernel address must be one clients can reach');
    const log = this.options.logger.child({ user: user.name });
    const started = Date.now();

    const conda = await this.options.conda();
    if (conda === null) throw new SksdError('conda_unavailable');

    // Independent checks run side by side; the environment's error wins when both fail.
    const cwd = request.cwd ?? user.home;
    const [envCheck, cwdCheck] = await Promise.allSettled([
      this.envs.resolve(conda, user, request.env, () =>
        resolveEnv(conda, user, request.env, { logger: log }),
      ),
      assertCwdAllowed(user, cwd, log),
    ]);
    if (envCheck.status === 'rejected') throw envCheck.reason;
    if (cwdCheck.status === 'rejected') throw cwdCheck.reason;
    const env = envCheck.value;
    if (request.spyder !== undefined) assertCompatible(request.spyder, env, log);

    const dir = await ensureUserDir(this.options.runtimeDir, user);
    const id = randomBytes(12).toString('base64url');
    const base = join(dir, `kernel-${id}`);
    const files = { connection: `${base}.json`, log: `${base}.log` };
    // Known kernels' ports count as taken: a restarting kernel has unbound them for a moment.
    const busy = new Set(
      [...this.life.kernels.values()].flatMap((k) => connectionPorts(k.connection)),
    );
    const connection = await newConnection(address, {
      range: this.options.portRange ?? null,
      busy,
    });
    await writeConnectionFile(files.connection, connection, user);

    const envName = env.byPrefix ? env.prefix : env.name;
    const version = env.spyderKernels.version;
    const kernel = new Kernel(id, user, envName, env.prefix, cwd, version, connection, files);
    try {
      kernel.log = await createKernelLog(files.log, user);
      if (this.life.closing) throw new SksdError('shutting_down');
    } catch (error) {
      await Promise.all([removeFile(files.connection), removeFile(files.log)]);
      await kernel.log?.close();
      throw error;
    }

    this.life.register(kernel);
    release();
    try {
      // Saved before the spawn: a daemon killed right after it still knows the kernel.
      await this.life.persist();
      if (this.life.closing) throw new SksdError('shutting_down');
      kernel.process = await spawnGeneration(kernel, conda, (g) => this.life.onExit(kernel, g));
      this.life.persistSoon();
    } catch (error) {
      await this.life.stop(kernel, 'start_failed', false);
      throw error;
    }

    const prepareMs = Date.now() - started;
    await this.life.awaitStart(kernel, Date.now() + this.options.startTimeoutMs, prepareMs);
    return { id, env: kernel.env, spyderKernels: version, connection };
  }

  /** The user's kernels, live ones first, then the recently dead with their exit. */
  list(user: UserAccount): KernelSummary[] {
    return this.life.listed(user).map((k) => k.summary());
  }

  /** SIGINT to the kernel's own python (not conda, which would die and forward nothing). */
  async interrupt(user: UserAccount, id: string): Promise<{ id: string; pid: number }> {
    const kernel = this.life.owned(user, id);
    this.life.assertRunning(kernel);

    let pid = kernel.kernelPid;
    if (pid === null || !(await isKernelPid(kernel, pid))) pid = await findKernelPid(kernel);
    kernel.kernelPid = pid;
    // The pid was checked a moment ago; the window for its reuse is that moment.
    if (pid === null || !signalProcess(pid, 'SIGINT')) {
      throw new SksdError('kernel_not_running', { logDetail: `${id}: no kernel process found` });
    }
    this.options.logger.info({ user: user.name, kernel: id, pid }, 'kernel interrupted');
    return { id, pid };
  }

  /** A new process generation with the same id, connection file, ports and key. */
  async restart(user: UserAccount, id: string) {
    const kernel = this.life.owned(user, id);
    if (kernel.restarting === null) {
      this.life.assertRunning(kernel);
      if (this.life.closing) throw new SksdError('shutting_down');
      const conda = await this.options.conda();
      if (conda === null) throw new SksdError('conda_unavailable');
      this.life.assertRunning(kernel);
      kernel.restarting = this.life
        .restart(kernel, conda)
        .finally(() => (kernel.restarting = null));
    }

    await kernel.restarting;
    return { id, restarts: kernel.restarts, connection: kernel.connection };
  }

  /** Stops one of the user's kernels: shutdown_request, SIGTERM, SIGKILL, with deadlines. */
  async shutdown(user: UserAccount, id: string): Promise<ShutdownResult> {
    const dead = this.life.forgetDead(user, id);
    if (dead !== undefined) {
      const { exitCode, signal } = dead.exit ?? { exitCode: null, signal: null };
      return {
        id,
        outcome: 'already_dead',
        exitCode,
        signal: signal as NodeJS.Signals | null,
        durationMs: 0,
      };
    }

    const outcome = await this.life.stop(this.life.owned(user, id), 'shutdown', true);
    const { how, exitCode, signal, durationMs } = outcome;
    return { id, outcome: how, exitCode, signal, durationMs };
  }

  /** At daemon start: adopt or stop the previous daemon's kernels (kernels.onDaemonStop). */
  async recover(): Promise<void> {
    const store = this.life.store;
    if (store === null) return;

    const recovered = await recoverKernels({
      records: await store.load(),
      adopt: this.options.onDaemonStop === 'keep',
      runtimeDir: this.options.runtimeDir,
      termGraceMs: this.options.shutdownGraceMs,
      lookupUser: this.options.lookupUser ?? lookupUser,
      logger: this.options.logger.child({ component: 'recovery' }),
    });
    await this.life.adopt(recovered.adopted, recovered.lost);
  }

  /** At daemon stop: stop every kernel, or leave them for the next daemon, as configured. */
  async close(): Promise<void> {
    this.culler.stop();
    if (this.options.onDaemonStop === 'keep') await this.life.detachAll([...this.starting]);
    else await this.shutdownAll();
  }

  /** Stops every kernel; later starts fail with shutting_down. */
  async shutdownAll(): Promise<void> {
    this.culler.stop();
    await this.life.stopAll([...this.starting]);
  }

  /** Tells listeners; a listener that throws is logged, it never breaks a start or a stop. */
  private emitState(event: KernelEvent): void {
    try {
      this.emit('state', event);
    } catch (err) {
      this.options.logger.error({ err, event }, 'kernel state listener threw');
    }
  }
}
