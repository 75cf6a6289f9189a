/**
 * Password and account checks through libpam, on a small pool of worker threads.
 *
 * A wrong password blocks the calling thread for about 2 s (pam_faildelay in pam_unix). On the
 * event loop that would stall the daemon; on libuv's threadpool (koffi's async calls, or
 * node-linux-pam) six failed logins at once would stall every file operation. Each PAM
 * conversation therefore runs synchronously inside its own worker_threads Worker.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { PAM_WORKER_SOURCE } from './pam-worker.js';

/** The PAM call a result comes from; 'done' when every call succeeded. */
export type PamStep = 'start' | 'authenticate' | 'acct_mgmt' | 'done';

/**
 * What PAM said. `auth_failed`: wrong password, unknown user or locked password.
 * `account_invalid`: right password but pam_acct_mgmt refused (expired, password change due).
 * `error`: PAM itself failed (service missing, auth source down). Code and text are for the log.
 */
export interface PamResult {
  readonly kind: 'ok' | 'auth_failed' | 'account_invalid' | 'error';
  readonly step: PamStep;
  readonly code: number;
  readonly text: string;
}

/** Why a call got no PamResult at all. */
export type PamFailure = 'queue_full' | 'crashed' | 'timeout' | 'closed';

/** A call that never reached a PAM answer: the pool was full or closed, or its worker died. */
export class PamUnavailableError extends Error {
  override readonly name = 'PamUnavailableError';

  constructor(
    readonly reason: PamFailure,
    options: { cause?: unknown } = {},
  ) {
    super(`PAM unavailable: ${reason}`, options);
  }
}

/** Options of PamAuthenticator; the first three come from config `auth`. */
export interface PamOptions {
  readonly service: string;
  readonly concurrency: number;
  readonly logger: Logger;
  /** Calls that may wait for a free worker; more are refused with queue_full. */
  readonly maxQueue?: number;
  /** A call still running after this long fails with timeout and its worker is replaced. */
  readonly timeoutMs?: number;
  /** The PAM library to load; another soname only for unusual systems and tests. */
  readonly library?: string;
}

interface WorkerReply {
  readonly id: number;
  readonly step: PamStep;
  readonly code: number;
  readonly text: string;
}

interface Job {
  readonly id: number;
  readonly user: string;
  readonly rhost: string;
  password: Uint8Array<ArrayBuffer> | null;
  timer?: NodeJS.Timeout;
  resolve(result: PamResult): void;
  reject(error: PamUnavailableError): void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | null;
}

const REFUSED_BEFORE_PAM: PamResult = {
  kind: 'auth_failed',
  step: 'authenticate',
  code: 7, // PAM_AUTH_ERR
  text: 'refused before PAM: empty user or NUL in input',
};

// Codes that mean "PAM or the system failed", whichever call returned them: PAM_OPEN_ERR,
// SYMBOL_ERR, SERVICE_ERR, SYSTEM_ERR, BUF_ERR, AUTHINFO_UNAVAIL, CONV_ERR, ABORT, MODULE_UNKNOWN.
const SYSTEM_CODES = new Set([1, 2, 3, 4, 5, 9, 19, 26, 28]);

// Resolved here, in the main thread, so that the eval'd worker needs no module resolution.
const KOFFI_PATH = createRequire(import.meta.url).resolve('koffi');

/** Sorts a worker's raw answer into a PamResult. Exported for tests. */
export function classify(reply: Omit<WorkerReply, 'id'>): PamResult {
  const { step, code, text } = reply;
  if (step === 'done' && code === 0) return { kind: 'ok', step, code, text };
  if (step === 'start' || SYSTEM_CODES.has(code)) return { kind: 'error', step, code, text };

  // Through common-account, an expired account fails with pam_deny's PAM_AUTH_ERR, not
  // PAM_ACCT_EXPIRED: the step, not the code, tells a bad account from a bad password.
  const kind = step === 'acct_mgmt' ? 'account_invalid' : 'auth_failed';
  return { kind, step, code, text };
}

/** Checks passwords and accounts with PAM, at most `concurrency` at once, off the event loop. */
export class PamAuthenticator {
  readonly #options: Required<Omit<PamOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: PamOptions) {
    const concurrency = Math.max(1, options.concurrency);
    this.#options = {
      service: options.service,
      concurrency,
      maxQueue: options.maxQueue ?? 16 * concurrency,
      timeoutMs: options.timeoutMs ?? 30_000,
      library: options.library ?? 'libpam.so.0',
    };
    this.#log = options.logger.child({ component: 'pam' });
  }

  /** Runs pam_authenticate then pam_acct_mgmt; rejects only with PamUnavailableError. */
  authenticate(user: string, password: string, rhost = ''): Promise<PamResult> {
    if (this.#closed) return Promise.reject(new PamUnavailableError('closed'));

    // C strings end at NUL: "secret\0anything" must not pass as "secret". Refused before PAM.
    if (user === '' || user.includes('\0') || password.includes('\0') || rhost.includes('\0')) {
      return Promise.resolve(REFUSED_BEFORE_PAM);
    }

    if (this.#queue.length >= this.#options.maxQueue) {
      return Promise.reject(new PamUnavailableError('queue_full'));
    }

    return new Promise<PamResult>((resolve, reject) => {
      // A fresh ArrayBuffer (never Buffer's shared pool), transferred to the worker, zeroed there.
      const bytes = new TextEncoder().encode(password);
      this.#queue.push({ id: this.#nextId++, user, rhost, password: bytes, resolve, reject });
      this.#dispatch();
    });
  }

  /** Fails queued and running calls with `closed` and ends the worker threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;

    for (const job of this.#queue.splice(0)) job.reject(new PamUnavailableError('closed'));
    const slots = this.#slots.splice(0);
    for (const slot of slots) this.#finish(slot)?.reject(new PamUnavailableError('closed'));

    // A thread inside a PAM call ends when that call returns (at most the fail delay, or a hung
    // network module): wait a bounded time, the threads are unref'd and cannot hold the process.
    const ended = Promise.allSettled(slots.map((slot) => slot.worker.terminate()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 5_000).unref();
    });
    await Promise.race([ended, deadline]);
    clearTimeout(timer);
  }

  #dispatch(): void {
    while (!this.#closed && this.#queue.length > 0) {
      const slot = this.#slots.find((s) => s.job === null) ?? this.#spawn();
      if (slot === null) return;

      const job = this.#queue.shift() as Job;
      const password = job.password as Uint8Array<ArrayBuffer>;
      job.password = null;
      slot.job = job;
      job.timer = setTimeout(() => this.#lose(slot, 'timeout', undefined), this.#options.timeoutMs);
      const { id, user, rhost } = job;
      slot.worker.postMessage({ id, service: this.#options.service, user, rhost, password }, [
        password.buffer,
      ]);
    }
  }

  #spawn(): Slot | null {
    if (this.#slots.length >= this.#options.concurrency) return null;

    const workerData = { koffiPath: KOFFI_PATH, library: this.#options.library };
    const worker = new Worker(PAM_WORKER_SOURCE, { eval: true, workerData });
    worker.unref();
    const slot: Slot = { worker, job: null };
    worker.on('message', (reply: WorkerReply) => this.#answer(slot, reply));
    worker.on('error', (error) => this.#lose(slot, 'crashed', error));
    worker.on('exit', (code) => this.#lose(slot, 'crashed', new Error(`exit code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }

  #answer(slot: Slot, reply: WorkerReply): void {
    if (slot.job?.id !== reply.id) return;

    this.#finish(slot)?.resolve(classify(reply));
    this.#dispatch();
  }

  /** A worker that crashed or overran: fail its call, drop it; the next call gets a new one. */
  #lose(slot: Slot, reason: PamFailure, cause: unknown): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;

    this.#slots.splice(index, 1);
    const job = this.#finish(slot);
    this.#log.error({ reason, err: cause, busy: job !== undefined }, 'PAM worker lost');
    job?.reject(new PamUnavailableError(reason, { cause }));
    slot.worker.terminate().catch(() => undefined);
    this.#dispatch();
  }

  #finish(slot: Slot): Job | undefined {
    const job = slot.job ?? undefined;
    slot.job = null;
    if (job?.timer) clearTimeout(job.timer);
    return job;
  }
}
