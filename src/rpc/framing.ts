/**
 * Framing: bytes to messages and back. One UTF-8 JSON text per line, ended by \n (a \r before it is
 * tolerated, for people typing into `openssl s_client`). JSON.stringify never emits a raw newline,
 * so a line is always one whole message. Lines are capped: a peer on the network must not be able
 * to make the daemon buffer without bound.
 */

/** What the reader found in the byte stream, in order. */
export type Frame =
  | { readonly kind: 'message'; readonly text: string }
  /** The line is not valid UTF-8; answered like malformed JSON, the stream goes on. */
  | { readonly kind: 'invalid_utf8' }
  /** A line, or the unterminated rest of the stream, is longer than the cap; the reader stops. */
  | { readonly kind: 'overflow' };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines. Each chunk is scanned once and a line is joined once, so the
 * cost stays linear however finely a large message is split.
 */
export class LineReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private stopped = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly maxBytes: number,
    private readonly onFrame: (frame: Frame) => void,
  ) {}

  /** Feeds bytes; frames are delivered synchronously to the callback. */
  push(chunk: Buffer): void {
    let start = 0;
    while (!this.stopped) {
      const newline = chunk.indexOf(LF, start);
      if (newline === -1) break;

      this.chunks.push(chunk.subarray(start, newline));
      this.buffered += newline - start;
      start = newline + 1;
      this.emitLine();
    }
    if (this.stopped || start === chunk.length) return;

    this.chunks.push(chunk.subarray(start));
    this.buffered += chunk.length - start;
    // One byte of slack: the line may still end in \r\n.
    if (this.buffered > this.maxBytes + 1) this.overflow();
  }

  /** Drops buffered bytes and ignores everything after, e.g. once the connection is closing. */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.buffered = 0;
  }

  private emitLine(): void {
    const line =
      this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;

    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    if (end > this.maxBytes) {
      this.overflow();
      return;
    }
    if (end === 0) return; // blank lines are keep-alives, not messages

    let text: string;
    try {
      text = this.decoder.decode(line.subarray(0, end));
    } catch {
      this.onFrame({ kind: 'invalid_utf8' });
      return;
    }
    this.onFrame({ kind: 'message', text });
  }

  private overflow(): void {
    this.stop();
    this.onFrame({ kind: 'overflow' });
  }
}

/** One message as it goes on the wire. */
export function encodeMessage(message: unknown): string {
  return `${JSON.stringify(message)}\n`;
}
