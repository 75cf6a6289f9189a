/** LineReader on its own: splitting, \r\n, blank lines, UTF-8, the cap, and linear cost. */
import { describe, expect, it } from 'vitest';
import { LineReader, encodeMessage, type Frame } from '../../src/rpc/framing.js';

function read(max: number, ...chunks: Array<string | Buffer>): Frame[] {
  const frames: Frame[] = [];
  const reader = new LineReader(max, (f) => frames.push(f));
  for (const chunk of chunks) reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return frames;
}

const message = (text: string): Frame => ({ kind: 'message', text });

describe('LineReader', () => {
  it('splits lines across and within chunks, tolerating \\r\\n and skipping blank lines', () => {
    expect(read(100, 'a\nb', 'c\r\n\n\r\nd', '\n')).toEqual([
      message('a'),
      message('bc'),
      message('d'),
    ]);
  });

  it('decodes a multi-byte character split between chunks', () => {
    const bytes = Buffer.from('"é€😀"\n');
    expect(read(100, bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5))).toEqual([
      message('"é€😀"'),
    ]);
  });

  it('reports invalid UTF-8 and goes on', () => {
    expect(read(100, Buffer.from([0xc3, 0x28, 0x0a]), 'ok\n')).toEqual([
      { kind: 'invalid_utf8' },
      message('ok'),
    ]);
  });

  it('accepts a line of exactly the cap, \\r\\n included, and refuses one byte more', () => {
    expect(read(4, 'abcd\r\n')).toEqual([message('abcd')]);
    expect(read(4, 'abcde\n', 'x\n')).toEqual([{ kind: 'overflow' }]);
  });

  it('stops an unterminated stream once it passes the cap', () => {
    const frames = read(10, 'aaaaa', 'aaaaa', 'a', 'aaaaaaaaaaaaaaaa\n');
    expect(frames).toEqual([{ kind: 'overflow' }]);
  });

  it('stays linear on a large message in one-byte chunks', () => {
    const size = 1024 * 1024;
    const frames: Frame[] = [];
    const reader = new LineReader(size + 10, (f) => frames.push(f));
    const text = Buffer.from(`"${'x'.repeat(size - 2)}"\n`);
    const started = performance.now();
    for (let i = 0; i < text.length; i++) reader.push(text.subarray(i, i + 1));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(frames).toHaveLength(1);
    expect((frames[0] as { text: string }).text.length).toBe(size);
  });

  it('encodes one message per line, newlines in strings escaped', () => {
    expect(encodeMessage({ a: 'x\ny' })).toBe('{"a":"x\\ny"}\n');
  });
});
