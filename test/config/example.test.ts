import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';

/** Every leaf key of the defaults, as dotted paths. */
function leafKeys(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

describe('the schema, the example config and the docs agree', () => {
  const defaults = ConfigSchema.parse({});
  const example = readFileSync(new URL('../../sksd.conf.example', import.meta.url), 'utf8');
  const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

  it('the example starts with the coding line and parses to exactly the defaults', () => {
    expect(example.startsWith('# -*- coding: utf-8 -*-\n')).toBe(true);
    expect(parseConfigText(example, 'sksd.conf.example')).toEqual(defaults);
  });

  it('the example sets every key explicitly', () => {
    const raw: unknown = parse(example);
    expect(leafKeys(raw).sort()).toEqual(leafKeys(defaults).sort());
  });

  it('docs/configuration.md describes every key', () => {
    const missing = leafKeys(defaults).filter((key) => !docs.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});
