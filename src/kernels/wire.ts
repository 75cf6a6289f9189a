/**
 * The Jupyter wire protocol (messaging spec v5.3, "The Wire Protocol"): a multipart ZeroMQ message
 * of routing ids, the delimiter `<IDS|MSG>`, an HMAC signature, then four JSON frames (header,
 * parent_header, metadata, content) and optional buffers. The signature is HMAC-SHA256 with the
 * connection key over the four JSON frames exactly as sent.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

const DELIMITER = '<IDS|MSG>';

/** Messaging spec version this client speaks. */
export const PROTOCOL_VERSION = '5.3';

/** The `username` in every header the daemon sends: its own requests are not client activity. */
export const DAEMON_USERNAME = 'sksd';

/** A message header. */
export interface Header {
  readonly msg_id: string;
  readonly session: string;
  readonly username: string;
  readonly date: string;
  readonly msg_type: string;
  readonly version: string;
}

/** A decoded message; buffers are not used by sksd and are dropped. */
export interface WireMessage {
  readonly header: Header;
  readonly parent_header: Partial<Header>;
  readonly metadata: Record<string, unknown>;
  readonly content: Record<string, unknown>;
}

/** A new request on behalf of the daemon. */
export function makeRequest(
  msgType: string,
  content: Record<string, unknown>,
  session: string,
): WireMessage {
  const header: Header = {
    msg_id: randomUUID(),
    session,
    username: DAEMON_USERNAME,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
  return { header, parent_header: {}, metadata: {}, content };
}

function sign(key: string, frames: readonly Buffer[]): string {
  const hmac = createHmac('sha256', key);
  for (const frame of frames) hmac.update(frame);
  return hmac.digest('hex');
}

/** The frames to send on a Dealer socket (no routing ids: the Dealer adds its own). */
export function serialize(message: WireMessage, key: string): Buffer[] {
  const parts = [message.header, message.parent_header, message.metadata, message.content].map(
    (part) => Buffer.from(JSON.stringify(part)),
  );
  return [Buffer.from(DELIMITER), Buffer.from(sign(key, parts)), ...parts];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Decodes received frames; null for anything malformed or wrongly signed. */
export function deserialize(frames: readonly Buffer[], key: string): WireMessage | null {
  const at = frames.findIndex((frame) => frame.toString() === DELIMITER);
  if (at < 0 || frames.length < at + 6) return null;

  const signature = frames[at + 1] as Buffer;
  const parts = frames.slice(at + 2, at + 6);
  const expected = Buffer.from(sign(key, parts));
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return null;

  try {
    const [header, parent, metadata, content] = parts.map((p) => JSON.parse(p.toString()));
    if (!isObject(header) || typeof header.msg_type !== 'string') return null;
    if (!isObject(parent) || !isObject(metadata) || !isObject(content)) return null;
    return {
      header: header as unknown as Header,
      parent_header: parent as Partial<Header>,
      metadata,
      content,
    };
  } catch {
    return null;
  }
}
