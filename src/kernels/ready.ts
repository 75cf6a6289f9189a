/**
 * Readiness: a kernel is ready when it answers kernel_info_request on its shell channel with a
 * reply signed with our key. Its connection file appears earlier (about 0.4 s) than it answers
 * (0.7 to 0.9 s), and an open port alone says nothing about the key, so neither is the test.
 */
import type { ConnectionInfo } from '../rpc/methods.js';
import { requestReply } from './client.js';

/** What the kernel said about itself; only the fields sksd logs. */
export interface KernelInfo {
  readonly implementation: string | null;
  readonly protocolVersion: string | null;
  readonly languageVersion: string | null;
}

/** When to give up waiting. */
export interface ReadyOptions {
  /** Epoch milliseconds. */
  readonly deadline: number;
  /** True once the kernel's process has exited: no point waiting for the deadline then. */
  readonly exited: () => boolean;
}

// A request queued before the kernel binds is delivered when it does; re-sending is only a
// safety net for a first request lost in the kernel's own start-up.
const RESEND_MS = 3000;

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Resolves with the kernel's info once it answers, or null at the deadline or on exit. */
export async function waitUntilReady(
  connection: ConnectionInfo,
  options: ReadyOptions,
): Promise<KernelInfo | null> {
  const reply = await requestReply(
    connection,
    'shell',
    'kernel_info_request',
    {},
    {
      deadline: options.deadline,
      resendMs: RESEND_MS,
      stop: options.exited,
    },
  );
  if (reply === null) return null;

  const language = reply.content.language_info as Record<string, unknown> | undefined;
  return {
    implementation: text(reply.content.implementation),
    protocolVersion: text(reply.content.protocol_version),
    languageVersion: text(language?.version),
  };
}
