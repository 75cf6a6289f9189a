import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load.js';

function problems(text: string): string {
  try {
    parseConfigText(text, '/etc/sksd.conf');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sksd-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fills every default from an empty document', () => {
    const config = parseConfigText('# nothing\n', 'x');
    expect(config.listen).toEqual({ address: '0.0.0.0', port: 0 });
    expect(config.auth.denyUsers).toEqual(['root']);
    expect(config.kernels.perUser).toBe(4);
    expect(config.rpc.maxMessageBytes).toBe(1024 * 1024);
    expect(config.tls.minVersion).toBe('TLSv1.3');
  });

  it('keeps a UTF-8 friendly name', () => {
    expect(parseConfigText('name: "Labo de données — GPU ☃"\n', 'x').name).toBe(
      'Labo de données — GPU ☃',
    );
  });

  it('names file, line and key of a bad value', () => {
    expect(problems('name: box\nlisten:\n  port: 99999\n')).toMatch(
      /^\/etc\/sksd\.conf:3: listen\.port: .*65535/,
    );
  });

  it('names an unknown key at its own line', () => {
    expect(problems('log:\n  level: info\nlisten:\n  adress: 1.2.3.4\n')).toMatch(
      /^\/etc\/sksd\.conf:4: listen\.adress: /,
    );
  });

  it('names the element of a list', () => {
    expect(problems('auth:\n  allowUsers:\n    - ok\n    - "bad name"\n')).toMatch(
      /:4: auth\.allowUsers\.1: not a valid Unix user/,
    );
  });

  it('reports YAML syntax errors with a line', () => {
    expect(problems('name: x\nlisten: [\n')).toMatch(/^\/etc\/sksd\.conf:\d+: \(top level\): YAML/);
  });

  it('refuses a certificate without its key', () => {
    expect(problems('tls:\n  cert: /etc/ssl/x.pem\n')).toMatch(/tls: set both cert and key/);
  });

  it('refuses an empty value where a number is needed', () => {
    expect(problems('kernels:\n  perUser:\n')).toMatch(/:2: kernels\.perUser: /);
  });

  it('refuses duplicate keys', () => {
    expect(problems('name: a\nname: b\n')).toMatch(/:2: .*YAML/);
  });

  it('uses defaults when the default file is absent, but not an explicit missing file', async () => {
    await expect(loadConfig(join(dir, 'missing.conf'))).rejects.toThrow(/cannot read: ENOENT/);
  });

  it('refuses a file that is not UTF-8', async () => {
    const file = join(dir, 'latin1.conf');
    await writeFile(file, Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xe9, 0x0a]));
    await expect(loadConfig(file)).rejects.toThrow(/not valid UTF-8/);
  });

  it('loads a valid file', async () => {
    const file = join(dir, 'ok.conf');
    await writeFile(file, '# -*- coding: utf-8 -*-\nlisten:\n  port: 7000\n');
    const loaded = await loadConfig(file);
    expect(loaded.source).toBe(file);
    expect(loaded.config.listen.port).toBe(7000);
  });
});
