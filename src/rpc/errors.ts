/**
 * The one table of wire error codes.
 *
 * JSON-RPC 2.0 reserves -32768..-32000 (section 5.1); sksd uses only the five predefined codes from
 * that range and keeps its own codes positive, grouped by concern: 1xxx authentication, 2xxx conda
 * environments, 3xxx kernels, 4xxx transport. Clients branch on `code` (or the stable `data.name`),
 * never on the message text.
 */
export const ErrorCodes = {
  parse_error: { code: -32700, message: 'Parse error: the line is not valid JSON' },
  invalid_request: { code: -32600, message: 'Invalid request: not a JSON-RPC 2.0 request object' },
  method_not_found: { code: -32601, message: 'Method not found' },
  invalid_params: { code: -32602, message: 'Invalid params' },
  internal_error: { code: -32603, message: 'Internal error; the daemon log has the details' },

  not_logged_in: { code: 1001, message: 'Log in first (auth.login or auth.resume)' },
  bad_credentials: {
    code: 1002,
    message: 'Wrong user name or password, or the account is not usable',
  },
  forbidden: { code: 1003, message: 'This user may not use this daemon or this action' },
  too_many_attempts: { code: 1004, message: 'Too many failed logins; wait and try again' },
  invalid_token: { code: 1005, message: 'The session token is unknown or has expired' },

  conda_unavailable: {
    code: 2001,
    message: 'No conda executable is configured or found on this host',
  },
  env_not_found: { code: 2002, message: 'No such conda environment for this user' },
  spyder_kernels_missing: {
    code: 2003,
    message: 'spyder-kernels cannot be imported in this environment',
  },
  conda_failed: { code: 2004, message: 'conda failed' },
  env_busy: { code: 2005, message: 'Another change to this environment is in progress' },
  env_exists: { code: 2006, message: 'An environment of this name already exists' },
  invalid_env_name: { code: 2007, message: 'Not a valid conda environment name' },
  invalid_spec: { code: 2008, message: 'Not a valid conda package match spec' },
  invalid_channel: { code: 2009, message: 'Not a valid channel: a name or an https/file URL' },
  channel_not_allowed: { code: 2010, message: 'This channel is not allowed on this host' },
  package_not_allowed: { code: 2011, message: 'This package is not allowed on this host' },
  env_limit_reached: { code: 2012, message: 'Environment limit reached for this user' },
  package_not_found: { code: 2013, message: 'conda found no such package' },
  solver_conflict: { code: 2014, message: 'conda cannot satisfy these specs together' },
  channel_unreachable: { code: 2015, message: 'conda cannot reach a channel' },
  disk_full: { code: 2016, message: 'No space left on the device' },
  cancelled: { code: 2017, message: 'The operation was cancelled' },
  unknown_operation: { code: 2018, message: 'No such running operation for this user' },
  conda_unsupported: { code: 2019, message: 'The configured conda executable cannot do this' },
  spyder_version_unknown: {
    code: 2020,
    message: 'No known spyder-kernels series for this Spyder version',
  },

  kernel_start_failed: { code: 3001, message: 'The kernel failed to start' },
  limit_reached: { code: 3002, message: 'Kernel limit reached' },
  unknown_kernel: { code: 3003, message: 'No such kernel for this user' },
  cwd_not_allowed: {
    code: 3004,
    message: 'The working directory is missing or not accessible to the user',
  },
  kernel_not_running: {
    code: 3005,
    message: 'The kernel is not running: starting, restarting, stopping or dead',
  },
  spyder_incompatible: {
    code: 3006,
    message: "The environment's spyder-kernels series does not match the client's Spyder",
  },

  message_too_large: { code: 4001, message: 'Message too large; the connection is closed' },
  batch_too_large: { code: 4002, message: 'Batch too long' },
  shutting_down: { code: 4003, message: 'The daemon is shutting down' },
} as const;

export type ErrorName = keyof typeof ErrorCodes;

/** Extra machine-readable detail sent to the client; never paths of the daemon, stacks or secrets. */
export type ErrorData = Record<string, unknown>;

/**
 * An error with three faces: a safe message and data for the client, detail for the log, and the
 * stable name for counting. Anything thrown that is not an SksdError reaches the client as
 * internal_error.
 */
export class SksdError extends Error {
  override readonly name = 'SksdError';
  readonly code: number;

  constructor(
    readonly errorName: ErrorName,
    options: { message?: string; data?: ErrorData; logDetail?: string; cause?: unknown } = {},
  ) {
    super(options.message ?? ErrorCodes[errorName].message, { cause: options.cause });
    this.code = ErrorCodes[errorName].code;
    this.data = options.data;
    this.logDetail = options.logDetail;
  }

  readonly data: ErrorData | undefined;
  readonly logDetail: string | undefined;

  /** The error object as it goes on the wire. */
  toWire(): { code: number; message: string; data: ErrorData } {
    return { code: this.code, message: this.message, data: { name: this.errorName, ...this.data } };
  }
}

/** Looks a wire code up in the table, for clients. */
export function errorNameOf(code: number): ErrorName | undefined {
  for (const [name, entry] of Object.entries(ErrorCodes)) {
    if (entry.code === code) return name as ErrorName;
  }
  return undefined;
}
