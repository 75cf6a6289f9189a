/**
 * Instance and host labels: at most 63 bytes of UTF-8, cut between user-perceived characters,
 * never inside a character's bytes, an accent's combining mark or an emoji sequence.
 */
import { describe, expect, it } from 'vitest';
import {
  cutUtf8,
  hostLabel,
  instanceLabel,
  MAX_LABEL_BYTES,
  renamed,
} from '../../src/discovery/names.js';

const bytes = (text: string) => Buffer.byteLength(text);

describe('cutUtf8', () => {
  it('leaves text that fits alone', () => {
    expect(cutUtf8('GPU box', 63)).toBe('GPU box');
    expect(cutUtf8('', 63)).toBe('');
  });

  it('never splits a multi-byte character', () => {
    // 31 ASCII + 'ü' (2 bytes) + ...: byte 32 is the middle of ü for a 32-byte budget.
    const text = `${'a'.repeat(31)}üü`;
    expect(cutUtf8(text, 32)).toBe('a'.repeat(31));
    expect(cutUtf8(text, 33)).toBe(`${'a'.repeat(31)}ü`);
    for (let max = 1; max <= bytes(text); max++) {
      const cut = cutUtf8(text, max);
      expect(bytes(cut)).toBeLessThanOrEqual(max);
      expect(text.startsWith(cut)).toBe(true);
      expect(Buffer.from(cut).toString('utf8')).toBe(cut);
    }
  });

  it('keeps a letter with its combining accent and an emoji sequence whole', () => {
    const decomposed = 'Cafe\u0301'; // e + COMBINING ACUTE ACCENT
    expect(cutUtf8(decomposed, 5)).toBe('Caf');
    const scientist = 'x🧑‍🔬'; // person, zero width joiner, microscope: 11 bytes together
    expect(cutUtf8(scientist, 11)).toBe('x');
    expect(cutUtf8(scientist, 12)).toBe(scientist);
    const flag = 'ab🇩🇪';
    expect(cutUtf8(flag, 7)).toBe('ab');
  });

  it('falls back to code points for one cluster longer than the budget', () => {
    const zalgo = `a${'\u0301'.repeat(40)}`; // 81 bytes in a single grapheme
    const cut = cutUtf8(zalgo, 63);
    expect(bytes(cut)).toBe(63);
    expect(zalgo.startsWith(cut)).toBe(true);
  });
});

describe('instanceLabel', () => {
  it('cuts a long non-ASCII friendly name to 63 bytes on a character boundary', () => {
    const name = 'Ünïcødé-Rechner für Spyder: Grüße aus dem Labor 🧑‍🔬🧑‍🔬 mit sehr langem Namen';
    // Byte 63 falls inside the first 🧑‍🔬 (bytes 56-66): the cut ends before it.
    expect(instanceLabel(name, 'host')).toBe('Ünïcødé-Rechner für Spyder: Grüße aus dem Labor');
    expect(bytes(instanceLabel('ä'.repeat(100), 'host'))).toBe(62);
    expect(bytes(instanceLabel('€'.repeat(100), 'host'))).toBe(63);
  });

  it('normalizes to NFC before counting, so a decomposed name is not cut shorter', () => {
    const decomposed = 'u\u0308'.repeat(40); // ü as u + combining diaeresis: 3 bytes each
    expect(instanceLabel(decomposed, 'h')).toBe('ü'.repeat(31));
  });

  it('replaces dots, drops control characters and collapses white space', () => {
    expect(instanceLabel('lab.example\tbox\n two', 'h')).toBe('lab-example box two');
    expect(instanceLabel('   ', 'fallback')).toBe('fallback');
  });

  it('stays within one label', () => {
    expect(MAX_LABEL_BYTES).toBe(63);
  });
});

describe('hostLabel and renamed', () => {
  it('takes the first label of the host name, reduced to host name characters', () => {
    expect(hostLabel('node1.cluster.example')).toBe('node1');
    expect(hostLabel('my_host')).toBe('my-host');
    expect(hostLabel('...')).toBe('sksd');
    expect(hostLabel('x'.repeat(80))).toHaveLength(63);
  });

  it('numbers a conflicting name and keeps it within 63 bytes', () => {
    expect(renamed('GPU box', 2)).toBe('GPU box (2)');
    expect(renamed('GPU box (2)', 3)).toBe('GPU box (3)');
    const long = renamed('ö'.repeat(40), 12);
    expect(long.endsWith(' (12)')).toBe(true);
    expect(bytes(long)).toBeLessThanOrEqual(63);
  });
});
