/**
 * Runs one conda command as a user for an administrative change: argv array through spawnAsUser
 * (the one place processes are started as users), stdout read as conda's --json stream (progress
 * records, then one document), cancellable. A cancel or the deadline stops the whole process
 * group with SIGTERM, which conda turns into CondaSignalInterrupt and a rollback of the running
 * transaction (conda_signal_handler in conda/__init__.py), then SIGKILL after the grace.
 */
import type { Logger } from '../log.js';
import type { UserAccount } from '../auth/users.js';
import { spawnAsUser } from '../process/spawn-as-user.js';
import { terminateGroup, type EndedHow } from '../process/terminate.js';
import { parseFetchRecord, RecordSplitter, type FetchRecord } from './progress.js';

/** How a conda command ended: one object, as STYLE.md asks of a process outcome. */
export interface CondaOutcome {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** conda's final JSON document, or null when stdout held none. */
  readonly json: unknown;
  readonly stderrTail: string;
  /** Whether sksd stopped the group (a cancel or the deadline), and how it ended then. */
  readonly stopped: EndedHow | null;
  readonly durationMs: number;
  /** The spawn error (ENOENT for a vanished executable), if any. */
  readonly cause?: Error;
}

/** What a run may be told and tells back. */
export interface RunCondaOptions {
  readonly logger: Logger;
  /** Aborting stops the group; the outcome then has `stopped` set. */
  readonly signal?: AbortSignal;
  /** Seconds conda gets after SIGTERM to roll back, in ms. */
  readonly cancelGraceMs: number;
  readonly onRecord?: (record: FetchRecord) => void;
  /** For a shared environment 022, so that every user can read it; else the users' 077. */
  readonly umask?: number;
}

const STDERR_TAIL = 4000;
const PIPE_GRACE_MS = 5000;

/** Parses the document after the last progress record; conda prints exactly one. */
export function parseDocument(text: string | null): unknown {
  if (text === null) return null;

  const trimmed = text.trim();
  if (trimmed === '') return null;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    // A stray line before the document (a plugin's print): take the last {...} or [...] block.
    const start = trimmed.search(/^[[{]/m);
    if (start <= 0) return null;
    try {
      return JSON.parse(trimmed.slice(start)) as unknown;
    } catch {
      return null;
    }
  }
}

/** Runs argv as the user; resolves when the process group is done, never rejects for conda's sake. */
export async function runConda(
  user: UserAccount,
  argv: readonly string[],
  options: RunCondaOptions,
): Promise<CondaOutcome> {
  const started = Date.now();
  const { logger } = options;
  const splitter = new RecordSplitter((text) => {
    const record = parseFetchRecord(text);
    if (record !== null) options.onRecord?.(record);
  });
  let stderr = '';

  const spawnOptions = {
    output: 'pipe' as const,
    ...(options.umask === undefined ? {} : { umask: options.umask }),
  };
  const child = spawnAsUser(user, argv, spawnOptions);
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => splitter.push(chunk));
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });

  let stopping: Promise<EndedHow> | null = null;
  const stop = (): void => {
    if (stopping !== null || child.pid === undefined) return;
    logger.info({ user: user.name, pgid: child.pid }, 'stopping conda');
    const termGraceMs = options.cancelGraceMs;
    stopping = terminateGroup({ pgid: child.pid, leader: child, termGraceMs, logger })
      .then((outcome) => outcome.how)
      .catch((err: unknown) => {
        logger.error({ err }, 'could not stop conda');
        return 'killed' as const;
      });
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener('abort', stop, { once: true });

  // A descendant that left the group (a daemon a post-link script started) may hold the pipes
  // open: once conda itself has exited, 'close' gets a few seconds, then the pipes are dropped.
  const unblock = () => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  child.once('exit', () => setTimeout(unblock, PIPE_GRACE_MS).unref());

  let cause: Error | undefined;
  try {
    await new Promise<void>((resolve) => {
      child.once('error', (error) => {
        cause = error;
        resolve();
      });
      child.once('close', () => resolve());
    });
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
  const stopped = stopping === null ? null : await stopping;

  return {
    argv,
    exitCode: child.exitCode,
    signal: child.signalCode,
    json: parseDocument(splitter.document()),
    stderrTail: stderr,
    stopped,
    durationMs: Date.now() - started,
    ...(cause === undefined ? {} : { cause }),
  };
}
