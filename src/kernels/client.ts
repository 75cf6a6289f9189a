/**
 * The daemon's own minimal Jupyter client: one request, one verified reply, on a Dealer socket
 * opened for the occasion. Long-lived clients (Spyder) connect to the kernel themselves; sksd only
 * asks kernel_info (readiness) and shutdown (the polite step).
 */
import { randomUUID } from 'node:crypto';
import { Dealer } from 'zeromq';
import type { ConnectionInfo } from '../rpc/methods.js';
import { deserialize, makeRequest, serialize, type WireMessage } from './wire.js';

/** The two request/reply channels sksd uses. */
export type Channel = 'shell' | 'control';

/** Deadlines for one request. */
export interface RequestOptions {
  /** Epoch milliseconds after which the request gives up with null. */
  readonly deadline: number;
  /** Re-send a fresh request this often while no reply came; never when omitted. */
  readonly resendMs?: number;
  /** Polled between receive slices; returning true gives up with null (e.g. the kernel exited). */
  readonly stop?: () => boolean;
}

// Receives wait in slices so that stop() and the deadline are noticed promptly.
const SLICE_MS = 100;
const RECONNECT_MS = 10;

function isTimeout(error: unknown): boolean {
  return (error as { code?: string }).code === 'EAGAIN';
}

/**
 * Sends `<msgType>_request` and resolves with the matching, correctly signed `<msgType>_reply`,
 * or null at the deadline. Replies with a bad signature are dropped like noise: the kernel was
 * started with our key, so a reply we cannot verify is not from it.
 */
export async function requestReply(
  connection: ConnectionInfo,
  channel: Channel,
  msgType: string,
  content: Record<string, unknown>,
  options: RequestOptions,
): Promise<WireMessage | null> {
  const port = channel === 'shell' ? connection.shell_port : connection.control_port;
  const replyType = msgType.replace(/_request$/, '_reply');
  const session = randomUUID();
  const sent = new Set<string>();
  let lastSend = 0;

  // linger 0: a request queued for a kernel that never came up must not keep the daemon alive.
  // A starting kernel refuses connections until it binds; ZeroMQ retries every 100 ms by
  // default, which would add up to that to every start. Loopback retries cost next to nothing.
  const socket = new Dealer({
    linger: 0,
    receiveTimeout: SLICE_MS,
    sendTimeout: SLICE_MS,
    reconnectInterval: RECONNECT_MS,
  });
  socket.connect(`tcp://${connection.ip}:${port}`);
  try {
    while (Date.now() < options.deadline) {
      if (options.stop?.() === true) return null;

      const resend = options.resendMs !== undefined && Date.now() - lastSend >= options.resendMs;
      if (sent.size === 0 || resend) {
        const message = makeRequest(msgType, content, session);
        sent.add(message.header.msg_id);
        lastSend = Date.now();
        await socket.send(serialize(message, connection.key)).catch((error: unknown) => {
          if (!isTimeout(error)) throw error;
          sent.delete(message.header.msg_id);
        });
      }

      const frames = await socket.receive().catch((error: unknown) => {
        if (isTimeout(error)) return null;
        throw error;
      });
      const reply = frames === null ? null : deserialize(frames, connection.key);
      const parent = reply?.parent_header.msg_id;
      if (reply?.header.msg_type === replyType && parent !== undefined && sent.has(parent)) {
        return reply;
      }
    }
    return null;
  } finally {
    socket.close();
  }
}

/**
 * The polite step of a shutdown: true when the kernel acknowledged on its control channel.
 * `restart` tells the kernel a new one follows (messaging spec, "Kernel shutdown").
 */
export async function requestShutdown(
  connection: ConnectionInfo,
  deadline: number,
  restart = false,
): Promise<boolean> {
  const content = { restart };
  const options = { deadline };
  return (await requestReply(connection, 'control', 'shutdown_request', content, options)) !== null;
}
