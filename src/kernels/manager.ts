/**
 * Starts, lists and stops Spyder kernels for authenticated users. A kernel is
 * `conda run -p PREFIX python -m spyder_kernels.console -f FILE` started as the user through
 * spawnAsUser, in its own process group, with a connection file the daemon wrote; it counts as
 * started once it answers kernel_info_request with our key.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import type { KernelSummary } from '../rpc/methods.js';
import { SksdError } from '../rpc/errors.js';
import type { CondaExecutable } from '../conda/locate.js';
import { resolveEnv } from '../conda/envs.js';
import { assertCwdAllowed } from '../process/run-as-user.js';
import { spawnAsUser } from '../process/spawn-as-user.js';
import { terminateGroup, type TerminationOutcome } from '../process/terminate.js';
import { ensureUserDir, newConnection, removeFile } from './connection-file.js';
import { writeConnectionFile } from './connection-file.js';
import { createKernelLog, readTail } from './log-file.js';
import { Kernel, kernelArgv, type KernelEvent, type ShutdownResult } from './kernel.js';
import type { StartRequest, StartResult } from './kernel.js';
import { requestShutdown } from './client.js';
import { waitUntilReady } from './ready.js';

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
  readonly logger: Logger;
}

// spyder-kernels 2.4.2 answers shutdown_request and then never exits (a non-daemon comm thread);
// plain ipykernel exits about 0.1 s after its reply. One second after a reply is plenty.
const SETTLE_AFTER_REPLY_MS = 1000;

/** All kernels of this daemon. One instance per daemon; not safe to share across processes. */
export class KernelManager extends EventEmitter<{ state: [KernelEvent] }> {
  private readonly kernels = new Map<string, Kernel>();
  /** Starts in progress per uid, counted against perUser before anything is spawned. */
  private readonly reserved = new Map<number, number>();
  private readonly starting = new Set<Promise<unknown>>();
  private closing = false;

  constructor(private readonly options: KernelManagerOptions) {
    super();
  }

  /** Starts a kernel for the user and resolves once it answers; see the module comment. */
  async start(request: StartRequest): Promise<StartResult> {
    if (this.closing) throw new SksdError('shutting_down');

    const { user } = request;
    const used = this.list(user).length + (this.reserved.get(user.uid) ?? 0);
    if (used >= this.options.perUser) {
      throw new SksdError('limit_reached', { data: { limit: this.options.perUser } });
    }

    this.reserved.set(user.uid, (this.reserved.get(user.uid) ?? 0) + 1);
    const run = this.launch(request);
    this.starting.add(run);
    try {
      return await run;
    } finally {
      this.starting.delete(run);
      this.reserved.set(user.uid, (this.reserved.get(user.uid) ?? 1) - 1);
    }
  }

  private async launch(request: StartRequest): Promise<StartResult> {
    const { user, address } = request;
    if (address === '0.0.0.0') throw new Error('a kernel address must be one clients can reach');
    const log = this.options.logger.child({ user: user.name });

    const conda = await this.options.conda();
    if (conda === null) throw new SksdError('conda_unavailable');

    const env = await resolveEnv(conda, user, request.env, { logger: log });
    const cwd = request.cwd ?? user.home;
    await assertCwdAllowed(user, cwd, log);

    const dir = await ensureUserDir(this.options.runtimeDir, user);
    const id = randomBytes(12).toString('base64url');
    const base = join(dir, `kernel-${id}`);
    const files = { connection: `${base}.json`, log: `${base}.log` };
    const connection = await newConnection(address);
    await writeConnectionFile(files.connection, connection, user);

    let output: FileHandle | null = null;
    try {
      output = await createKernelLog(files.log, user);
      if (this.closing) throw new SksdError('shutting_down');

      const argv = kernelArgv(conda, env.prefix, files.connection, address);
      const extraEnv = { PYDEVD_DISABLE_FILE_VALIDATION: '1' };
      const child = spawnAsUser(user, argv, { cwd, output: output.fd, extraEnv });
      const envName = env.byPrefix ? env.prefix : env.name;
      const kernel = new Kernel(id, user, envName, env.prefix, connection, files, child);
      this.track(kernel, log);

      await this.awaitReady(kernel, output, log);
      return { id, env: kernel.env, spyderKernels: env.spyderKernels.version, connection };
    } catch (error) {
      await Promise.all([removeFile(files.connection), removeFile(files.log)]);
      throw error;
    } finally {
      await output?.close();
    }
  }

  /** Registers a spawned kernel and notices when its leader exits on its own. */
  private track(kernel: Kernel, log: Logger): void {
    this.kernels.set(kernel.id, kernel);
    this.emitState(kernel);

    const exited = (detail: Record<string, unknown>) => {
      if (kernel.exited) return;
      kernel.exited = true;
      if (kernel.state !== 'running') return;

      // Only conda may have died (then bash and python run on as orphans): stop the whole group.
      log.warn({ kernel: kernel.id, ...detail }, 'kernel exited on its own');
      this.stop(kernel, false).catch((err: unknown) => log.error({ err }, 'cleanup failed'));
    };
    kernel.child.once('exit', (code, signal) => exited({ code, signal }));
    kernel.child.once('error', (err) => exited({ err }));
  }

  private async awaitReady(kernel: Kernel, output: FileHandle, log: Logger): Promise<void> {
    const started = Date.now();
    const deadline = kernel.startedAt.getTime() + this.options.startTimeoutMs;
    const info = await waitUntilReady(kernel.connection, { deadline, exited: () => kernel.exited });

    if (info !== null && kernel.state === 'starting') {
      kernel.state = 'running';
      this.emitState(kernel);
      log.info(
        { kernel: kernel.id, env: kernel.prefix, pid: kernel.pgid, readyMs: Date.now() - started },
        'kernel started',
      );
      return;
    }

    const stoppedElsewhere = kernel.stopping !== null;
    const outcome = await this.stop(kernel, false);
    if (stoppedElsewhere && this.closing) throw new SksdError('shutting_down');

    // The log file is already unlinked; the daemon's descriptor still reads it.
    const stderrTail = (await readTail(output)).join('\n');
    const reason = kernel.exited ? 'exited before answering' : 'no kernel_info_reply in time';
    log.warn({ kernel: kernel.id, env: kernel.prefix, reason, outcome }, 'kernel failed to start');
    throw new SksdError('kernel_start_failed', {
      data: { stderrTail },
      logDetail: `${kernel.user.name}: ${kernel.prefix}: ${reason}`,
    });
  }

  /** Stops a kernel once; every caller gets the same outcome. */
  private stop(kernel: Kernel, polite: boolean): Promise<TerminationOutcome> {
    if (kernel.stopping !== null) return kernel.stopping;

    const wasRunning = kernel.state === 'running';
    kernel.state = 'stopping';
    this.emitState(kernel);
    kernel.stopping = this.terminate(kernel, polite && wasRunning);
    return kernel.stopping;
  }

  private async terminate(kernel: Kernel, polite: boolean): Promise<TerminationOutcome> {
    const graceMs = this.options.shutdownGraceMs;
    const logger = this.options.logger.child({ user: kernel.user.name, kernel: kernel.id });
    const request = () => requestShutdown(kernel.connection, Date.now() + graceMs);

    const pgid = kernel.pgid;
    const outcome: TerminationOutcome =
      pgid === null
        ? { how: 'already_dead', exitCode: null, signal: null, durationMs: 0, survivors: [] }
        : await terminateGroup({
            pgid,
            leader: kernel.child,
            polite: polite ? { request, graceMs, settleMs: SETTLE_AFTER_REPLY_MS } : undefined,
            termGraceMs: graceMs,
            logger,
          });

    // The directory is the user's: a file they replaced by a directory must not wedge the state.
    await Promise.all([removeFile(kernel.files.connection), removeFile(kernel.files.log)]).catch(
      (err: unknown) => logger.warn({ err }, 'could not remove kernel files'),
    );
    kernel.state = 'dead';
    this.kernels.delete(kernel.id);
    this.emitState(kernel);
    logger.info({ outcome }, 'kernel stopped');
    return outcome;
  }

  /** Tells listeners; a listener that throws is logged, it never breaks a start or a stop. */
  private emitState(kernel: Kernel): void {
    const event = { id: kernel.id, user: kernel.user.name, env: kernel.env, state: kernel.state };
    try {
      this.emit('state', event);
    } catch (err) {
      this.options.logger.error({ err, event }, 'kernel state listener threw');
    }
  }

  /** The user's kernels that are not dead, oldest first. */
  list(user: UserAccount): KernelSummary[] {
    return [...this.kernels.values()].filter((k) => k.ownedBy(user)).map((k) => k.summary());
  }

  /** Stops one of the user's kernels: shutdown_request, SIGTERM, SIGKILL, with deadlines. */
  async shutdown(user: UserAccount, id: string): Promise<ShutdownResult> {
    const kernel = this.kernels.get(id);
    if (kernel === undefined || !kernel.ownedBy(user)) throw new SksdError('unknown_kernel');

    const outcome = await this.stop(kernel, true);
    const { how, exitCode, signal, durationMs } = outcome;
    return { id, outcome: how, exitCode, signal, durationMs };
  }

  /** Stops every kernel, for daemon shutdown; later starts fail with shutting_down. */
  async shutdownAll(): Promise<void> {
    this.closing = true;
    const stops = [...this.kernels.values()].map((kernel) => this.stop(kernel, true));
    await Promise.allSettled([...stops, ...this.starting]);
  }
}
