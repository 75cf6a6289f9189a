/**
 * conda's own failures as coded errors. With --json conda prints its exception as a JSON object
 * on stdout (CondaError.dump_map: exception_name, message, error, caused_by, ...) and exits
 * non-zero; the name says which kind of failure it was, the message is what the client shows.
 */
import { SksdError, type ErrorName } from '../rpc/errors.js';
import type { CondaOutcome } from './run-conda.js';
import { redactUrls } from './specs.js';

// Exception class names of conda (conda/exceptions.py), conda-libmamba-solver and mamba.
const BY_EXCEPTION: Record<string, ErrorName> = {
  PackagesNotFoundError: 'package_not_found',
  PackageNotFoundError: 'package_not_found',
  PackageNotInstalledError: 'package_not_found',
  ResolvePackageNotFound: 'package_not_found',
  UnsatisfiableError: 'solver_conflict',
  LibMambaUnsatisfiableError: 'solver_conflict',
  SpecsConfigurationConflictError: 'solver_conflict',
  CondaHTTPError: 'channel_unreachable',
  UnavailableInvalidChannel: 'channel_unreachable',
  ChannelError: 'channel_unreachable',
  ProxyError: 'channel_unreachable',
  CondaSSLError: 'channel_unreachable',
  ChannelNotAllowed: 'channel_not_allowed',
  NoSpaceLeftError: 'disk_full',
  EnvironmentLocationNotFound: 'env_not_found',
  EnvironmentNameNotFound: 'env_not_found',
  DirectoryNotACondaEnvironmentError: 'env_not_found',
};

const MESSAGE_MAX = 2000;

/** conda's error object, when stdout held one. */
export function condaException(json: unknown): { name: string; message: string } | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;

  const r = json as Record<string, unknown>;
  const name = r['exception_name'];
  if (typeof name !== 'string') return null;
  const message = typeof r['message'] === 'string' ? r['message'] : String(r['error'] ?? name);
  return { name, message };
}

/** Shortens and redacts conda's text for the client. */
function clientText(text: string): string {
  const clean = redactUrls(text.trim());
  return clean.length > MESSAGE_MAX ? `${clean.slice(0, MESSAGE_MAX)}…` : clean;
}

/** The coded error for a conda command that did not succeed; `what` names it in the log. */
export function condaFailure(outcome: CondaOutcome, what: string): SksdError {
  const status = { exitCode: outcome.exitCode, signal: outcome.signal };
  if (outcome.cause !== undefined || outcome.exitCode === 127) {
    const logDetail = `${what}: ${outcome.cause?.message ?? outcome.stderrTail.trim()}`;
    return new SksdError('conda_unavailable', { logDetail, cause: outcome.cause });
  }

  const exception = condaException(outcome.json);
  if (exception !== null) {
    const name = BY_EXCEPTION[exception.name] ?? 'conda_failed';
    const message = clientText(exception.message);
    return new SksdError(name, {
      data: { exception: exception.name, message, ...status },
      logDetail: `${what}: ${exception.name}: ${message}`,
    });
  }

  // No JSON error: a traceback or an OSError text. ENOSPC has a recognisable message.
  const tail = clientText(outcome.stderrTail.split('\n').slice(-20).join('\n'));
  const name: ErrorName = /No space left on device/i.test(tail) ? 'disk_full' : 'conda_failed';
  return new SksdError(name, {
    data: { message: tail, ...status },
    logDetail: `${what}: exit ${String(outcome.exitCode)} signal ${String(outcome.signal)}: ${tail}`,
  });
}

/** Whether conda's document says success (exit 0 alone is not trusted for a JSON command). */
export function succeeded(outcome: CondaOutcome): boolean {
  if (outcome.exitCode !== 0 || outcome.stopped !== null) return false;

  const json = outcome.json;
  if (Array.isArray(json)) return true; // conda list --json
  return typeof json === 'object' && json !== null && condaException(json) === null;
}
