/**
 * Environment administration: the service behind envs.* (env-ops.ts), packages.* (packages.ts)
 * and channels.* (channels.ts). Each action is the same short sequence:
 * policy and validation before anything runs, the target environment and the account to run as,
 * then one conda command as an operation (progress, cancel, one change per environment), and an
 * audit line whatever happens.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import { SksdError } from '../rpc/errors.js';
import type { ChangeResult, OpsProgressParams } from '../rpc/methods-admin.js';
import { runAsUser } from '../process/run-as-user.js';
import * as argv from './argv.js';
import { audited, type AuditTrail, type Caller } from './audit.js';
import { changeOf, channelsOf } from './conda-json.js';
import { condaFailure, succeeded } from './failures.js';
import type { CondaExecutable } from './locate.js';
import { Operations, type Operation } from './operations.js';
import type { EnvPolicy } from './policy.js';
import { ProgressReporter } from './progress.js';
import { parseDocument, runConda, type CondaOutcome } from './run-conda.js';
import { umaskFor, type EnvTarget } from './targets.js';

export type { Caller } from './audit.js';

/** Sends one ops.progress notification to the caller's connection. */
export type ProgressSink = (params: OpsProgressParams) => void;

/** What the service needs from the daemon. */
export interface EnvAdminOptions {
  readonly conda: () => Promise<CondaExecutable | null>;
  readonly policy: EnvPolicy;
  readonly operationTimeoutMs: number;
  readonly cancelGraceMs: number;
  readonly logger: Logger;
  /** Whether the user runs a kernel in this environment (envs.remove refuses then). */
  readonly inUse?: (user: UserAccount, env: { name: string; prefix: string }) => boolean;
}

/** One conda change as an operation. */
export interface ChangeRequest {
  readonly caller: Caller;
  readonly method: string;
  readonly opId: string | undefined;
  readonly target: EnvTarget;
  readonly argv: readonly string[];
  readonly progress: ProgressSink;
  readonly trail: AuditTrail;
  readonly extraLocks?: readonly string[];
  /** Runs after a failed or cancelled change, under the same lock (a create's leftovers). */
  readonly cleanup?: () => Promise<void>;
  /** The prefix must not exist yet: checked again under the lock, as conda --yes replaces one. */
  readonly fresh?: boolean;
}

const SHORT_TIMEOUT_MS = 60_000;

/** The environment administration service; one per daemon. */
export class EnvAdmin {
  readonly operations: Operations;
  readonly logger: Logger;

  constructor(readonly options: EnvAdminOptions) {
    this.logger = options.logger;
    // Read at each start, so that a reloaded policy.operationTimeout applies to the next change.
    const timing = {
      get timeoutMs() {
        return options.operationTimeoutMs;
      },
      logger: options.logger,
    };
    this.operations = new Operations(timing);
  }

  get policy(): EnvPolicy {
    return this.options.policy;
  }

  /** The conda executable, or conda_unavailable. */
  async conda(): Promise<CondaExecutable> {
    const conda = await this.options.conda();
    if (conda === null) throw new SksdError('conda_unavailable');
    return conda;
  }

  /** Runs an action with its audit line. */
  audited<T>(caller: Caller, action: string, work: (trail: AuditTrail) => Promise<T>): Promise<T> {
    return audited(this.logger, caller, action, work);
  }

  /** Runs a short conda command (list, config) as the user and returns its JSON document. */
  async short(user: UserAccount, command: readonly string[], what: string): Promise<unknown> {
    const result = await runAsUser(user, command, {
      timeoutMs: SHORT_TIMEOUT_MS,
      logger: this.logger,
    });
    const json = parseDocument(result.stdout);
    const outcome: CondaOutcome = {
      argv: command,
      exitCode: result.exitCode,
      signal: result.signal,
      json,
      stderrTail: result.stderr.slice(-4000),
      stopped: result.timedOut ? 'killed' : null,
      durationMs: result.durationMs,
    };
    if (!succeeded(outcome)) throw condaFailure(outcome, what);
    return json;
  }

  /**
   * The channels a solve uses. Without an allowlist: the request's, ahead of the configured ones
   * (conda's own -c). With one: exactly the request's, else the configured ones, every one checked,
   * passed with --override-channels so that no .condarc can add another.
   */
  async channelChoice(
    runAs: UserAccount,
    requested: readonly string[],
  ): Promise<argv.ChannelChoice> {
    if (!this.policy.restrictsChannels) return { channels: requested, override: false };

    let channels = requested;
    if (channels.length === 0) {
      const conda = await this.conda();
      const json = await this.short(
        runAs,
        argv.configArgv(conda, argv.SHOW_CHANNELS),
        'config --show',
      );
      channels = channelsOf(json).shown ?? [];
    }
    this.policy.assertChannels(channels);
    return { channels, override: true };
  }

  /** Runs one conda change as an operation; see the module comment. */
  async change(request: ChangeRequest): Promise<ChangeResult> {
    const { caller, target, method, trail } = request;
    const locks = [target.prefix, ...(request.extraLocks ?? [])];
    const label = target.name;
    trail.env = target.prefix;
    trail.runAs = target.runAs.name;
    const spec = {
      id: request.opId,
      user: caller.account,
      connectionId: caller.connectionId,
      method,
    };

    return this.operations.run({ ...spec, env: label, locks }, async (op) => {
      if (request.fresh === true && existsSync(target.prefix)) {
        throw new SksdError('env_exists', { data: { name: target.name } });
      }
      trail.op = op.id;
      const reporter = new ProgressReporter((event) => {
        op.phase = event.phase;
        request.progress({ ...event, op: op.id, method, env: label });
      });
      reporter.enter('solving');

      const outcome = await runConda(target.runAs, request.argv, {
        logger: this.logger.child({ op: op.id }),
        signal: op.signal,
        cancelGraceMs: this.options.cancelGraceMs,
        onRecord: (record) => reporter.record(record),
        umask: umaskFor(target),
      });
      trail.exitCode = outcome.exitCode;
      trail.signal = outcome.signal;

      if (!succeeded(outcome)) {
        if (request.cleanup !== undefined) {
          reporter.enter('cleanup');
          await request.cleanup();
        }
        throw outcome.stopped !== null || op.reason !== null
          ? op.cancelledError()
          : condaFailure(outcome, method);
      }
      return {
        op: op.id,
        env: { name: target.name, prefix: target.prefix },
        ...changeOf(outcome.json),
        durationMs: outcome.durationMs,
      };
    });
  }

  /** Resolving context for targets.ts. */
  targets(conda: CondaExecutable) {
    return { conda, policy: this.policy, logger: this.logger };
  }

  /** Stops every running operation; part of the daemon's one stop path. */
  shutdown(): Promise<void> {
    return this.operations.shutdown();
  }
}

/** Keeps an Operation type reachable for handlers that list operations. */
export type { Operation };
