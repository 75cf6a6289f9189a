/**
 * Running administrative operations: one change at a time per environment, cancellation, and a
 * deadline. JSON-RPC 2.0 has no cancel of its own, so every long method takes an optional `op`
 * id (or gets one), progress notifications carry it, and `ops.cancel {op}` cancels. Closing the
 * connection that started an operation cancels it too, as closing a terminal stops a conda
 * running in it; so does the daemon's shutdown and the policy's operationTimeout.
 *
 * A second change to a busy environment is refused at once with env_busy (data.op names the
 * running one), rather than queued: a queued change could start minutes later for a client that
 * has gone, and the client can watch or cancel the running one instead.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import { SksdError } from '../rpc/errors.js';
import type { OpPhase } from '../rpc/methods-admin.js';

/** Why an operation was cancelled. */
export type CancelReason = 'client' | 'disconnect' | 'timeout' | 'shutdown';

/** What starts an operation. */
export interface OperationRequest {
  /** The client's id for it, or undefined for one chosen here. */
  readonly id?: string;
  readonly user: UserAccount;
  readonly connectionId: string;
  readonly method: string;
  /** The environment as the client named it, for ops.list and progress. */
  readonly env: string;
  /** Keys that must be free: environment prefixes, or "condarc:UID" for channel changes. */
  readonly locks: readonly string[];
}

/** One running operation, handed to its work. */
export class Operation {
  readonly controller = new AbortController();
  readonly startedAt = new Date();
  phase: OpPhase = 'solving';
  reason: CancelReason | null = null;

  constructor(
    readonly id: string,
    readonly request: OperationRequest,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  cancel(reason: CancelReason): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.controller.abort();
  }

  /** The cancelled error this operation's call fails with. */
  cancelledError(): SksdError {
    return new SksdError('cancelled', {
      data: { op: this.id, reason: this.reason ?? 'client' },
      logDetail: `${this.request.method} ${this.request.env}: ${this.reason ?? 'client'}`,
    });
  }
}

/** All running operations of the daemon. */
export class Operations {
  private readonly running = new Map<string, Operation>();
  private readonly locks = new Map<string, Operation>();
  private readonly settled = new Set<Promise<unknown>>();
  private closing = false;

  constructor(private readonly options: { timeoutMs: number; logger: Logger }) {}

  /** Runs work as an operation; refuses at once when one of its locks is held. */
  async run<T>(request: OperationRequest, work: (op: Operation) => Promise<T>): Promise<T> {
    if (this.closing) throw new SksdError('shutting_down');

    const id = request.id ?? randomBytes(9).toString('base64url');
    const key = `${request.user.uid}/${id}`;
    if (this.running.has(key)) {
      throw new SksdError('invalid_params', { message: 'This operation id is already running' });
    }
    const holder = request.locks.map((lock) => this.locks.get(lock)).find((op) => op !== undefined);
    if (holder !== undefined) {
      // Another user's operation id is not theirs to cancel: name it only to its owner.
      const mine = holder.request.user.uid === request.user.uid;
      throw new SksdError('env_busy', {
        data: {
          env: request.env,
          ...(mine ? { op: holder.id, method: holder.request.method } : {}),
        },
        logDetail: `${request.method} ${request.env}: held by ${holder.request.method} ${holder.id}`,
      });
    }

    // Registered synchronously after the check: no other call can slip in between.
    const op = new Operation(id, request);
    this.running.set(key, op);
    for (const lock of request.locks) this.locks.set(lock, op);
    const timer = setTimeout(() => op.cancel('timeout'), this.options.timeoutMs);

    const promise = work(op);
    this.settled.add(promise);
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      this.settled.delete(promise);
      this.running.delete(key);
      for (const lock of request.locks) if (this.locks.get(lock) === op) this.locks.delete(lock);
    }
  }

  /** Cancels the user's operation; unknown_operation for ids that are not theirs. */
  cancel(user: UserAccount, id: string): void {
    const op = this.running.get(`${user.uid}/${id}`);
    if (op === undefined)
      throw new SksdError('unknown_operation', { logDetail: `${user.name}: ${id}` });

    this.options.logger.info({ user: user.name, op: id }, 'operation cancel requested');
    op.cancel('client');
  }

  /** Cancels what a closed connection started. */
  connectionClosed(connectionId: string): void {
    for (const op of this.running.values()) {
      if (op.request.connectionId === connectionId) op.cancel('disconnect');
    }
  }

  /** The user's running operations. */
  list(user: UserAccount): Operation[] {
    return [...this.running.values()].filter((op) => op.request.user.uid === user.uid);
  }

  /** Cancels everything and waits until every operation has ended; for the daemon's stop. */
  async shutdown(): Promise<void> {
    this.closing = true;
    for (const op of this.running.values()) op.cancel('shutdown');
    await Promise.allSettled([...this.settled]);
  }
}
