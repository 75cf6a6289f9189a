/**
 * The audit trail of environment administration: one log line per action with who, from which
 * address, what, and the outcome (with conda's exit status when conda ran). Values come from
 * validated input only: a refused value is never logged, since it may be a secret in the wrong
 * field, and channels with credentials are refused before they get here.
 */
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import { SksdError } from '../rpc/errors.js';

/** Who is acting, from where, on which connection. */
export interface Caller {
  readonly account: UserAccount;
  readonly address: string;
  readonly connectionId: string;
}

/** What the action fills in as it learns it. */
export interface AuditTrail {
  env?: string;
  op?: string;
  runAs?: string;
  exitCode?: number | null;
  signal?: string | null;
  /** Validated details of the request: specs, names, channels, position. */
  details: Record<string, unknown>;
}

/** How an action ended, for counting. */
export type AuditOutcome = 'ok' | 'refused' | 'failed' | 'cancelled';

// Refusals of the request itself, as opposed to conda failing at the work.
const REFUSALS = new Set([
  'forbidden',
  'invalid_params',
  'invalid_env_name',
  'invalid_spec',
  'invalid_channel',
  'channel_not_allowed',
  'package_not_allowed',
  'env_limit_reached',
  'env_exists',
  'env_busy',
  'env_not_found',
  'conda_unsupported',
  'spyder_version_unknown',
  'unknown_operation',
]);

function outcomeOf(error: unknown): { outcome: AuditOutcome; error: string } {
  if (!(error instanceof SksdError)) return { outcome: 'failed', error: 'internal_error' };
  if (error.errorName === 'cancelled') return { outcome: 'cancelled', error: error.errorName };
  return { outcome: REFUSALS.has(error.errorName) ? 'refused' : 'failed', error: error.errorName };
}

/** Runs an administrative action and writes its audit line, whatever the outcome. */
export async function audited<T>(
  logger: Logger,
  caller: Caller,
  action: string,
  work: (trail: AuditTrail) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const trail: AuditTrail = { details: {} };
  const line = (fields: Record<string, unknown>) => ({
    audit: true,
    user: caller.account.name,
    remote: caller.address,
    action,
    ...trail,
    durationMs: Date.now() - started,
    ...fields,
  });

  try {
    const result = await work(trail);
    logger.info(line({ outcome: 'ok' }), 'env admin');
    return result;
  } catch (error) {
    const detail = error instanceof SksdError ? error.logDetail : undefined;
    logger.info(line({ ...outcomeOf(error), detail }), 'env admin');
    throw error;
  }
}
