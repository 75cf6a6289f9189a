/**
 * The TXT record: small, every string within 255 bytes, txtvers first; and the reading side,
 * which takes what the network sends (case-insensitive keys, first occurrence wins, bad values
 * dropped one by one) without trusting it.
 */
import { describe, expect, it } from 'vitest';
import { buildTxt, parseTxt, type ServiceFacts } from '../../src/discovery/txt.js';

const FP = 'AB:'.repeat(31) + 'AB';
const facts: ServiceFacts = {
  protocol: 1,
  version: '0.1.0',
  state: 'idle',
  kernels: 2,
  limit: 64,
  fingerprint: FP,
};

describe('buildTxt', () => {
  it('puts txtvers first and one fact per key', () => {
    const txt = buildTxt(facts);
    expect(Object.keys(txt)[0]).toBe('txtvers');
    expect(txt).toEqual({
      txtvers: '1',
      proto: '1',
      version: '0.1.0',
      state: 'idle',
      kernels: '2',
      limit: '64',
      sha256: FP,
    });
  });

  it('stays small: every string well within 255 bytes, the whole record under 200', () => {
    const strings = Object.entries(buildTxt(facts)).map(([k, v]) => `${k}=${v}`);
    expect(Math.max(...strings.map((s) => Buffer.byteLength(s)))).toBeLessThanOrEqual(255);
    expect(strings.reduce((sum, s) => sum + Buffer.byteLength(s) + 1, 0)).toBeLessThan(200);
  });

  it('refuses a string longer than a DNS character-string holds', () => {
    expect(() => buildTxt({ ...facts, version: 'x'.repeat(250) })).toThrow(
      /version is longer than 255/,
    );
  });
});

describe('parseTxt', () => {
  const strings = (txt: Record<string, string>) =>
    Object.entries(txt).map(([k, v]) => Buffer.from(`${k}=${v}`));

  it('reads back what buildTxt wrote', () => {
    expect(parseTxt(strings(buildTxt(facts)))).toEqual(facts);
  });

  it('takes keys in any case, the first occurrence of each, and any fingerprint spelling', () => {
    const parsed = parseTxt([
      'STATE=busy',
      'state=idle',
      `Sha256=${FP.replaceAll(':', '').toLowerCase()}`,
    ]);
    expect(parsed.state).toBe('busy');
    expect(parsed.fingerprint).toBe(FP);
  });

  it('makes a malformed field null, not the whole service', () => {
    const parsed = parseTxt([
      'state=sleeping',
      'kernels=',
      'limit=-1',
      'proto=x',
      'sha256=AB:CD',
      'version=0.2.0',
    ]);
    expect(parsed).toEqual({
      protocol: null,
      version: '0.2.0',
      state: null,
      kernels: null,
      limit: null,
      fingerprint: null,
    });
    expect(parseTxt([Buffer.from([0xff, 0x3d]), '=x', 'novalue']).state).toBeNull();
  });
});
