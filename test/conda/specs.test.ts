/**
 * Validation of names, match specs and channels: what conda accepts passes unchanged, anything
 * that could become an option, a path, a URL to a package file or a shell word is refused with
 * its own coded error, and the refusal never carries the value back.
 */
import { describe, expect, it } from 'vitest';
import { SksdError } from '../../src/rpc/errors.js';
import {
  parseSpec,
  pythonSpec,
  redactUrls,
  validateChannel,
  validateEnvName,
  validateEnvRef,
  validatePackageName,
} from '../../src/conda/specs.js';

function refusal(fn: () => unknown): SksdError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SksdError);
    return error as SksdError;
  }
  throw new Error('not refused');
}

describe('environment names', () => {
  it('accepts what conda accepts', () => {
    for (const name of ['proj', 'my-env_2', 'Py3.11', 'ünïcode', 'a=b', 'x+y']) {
      expect(validateEnvName(name)).toBe(name);
    }
  });

  it('refuses conda’s forbidden characters, reserved names, options and control characters', () => {
    for (const name of [
      'a/b',
      'a b',
      'a:b',
      'a#b',
      'base',
      'root',
      '-n',
      '--prefix=/x',
      '.x',
      'a\nb',
      '',
      'x'.repeat(101),
    ]) {
      const error = refusal(() => validateEnvName(name));
      expect(error.errorName).toBe('invalid_env_name');
      expect(JSON.stringify(error.toWire())).not.toContain(name === '' ? '""' : name);
    }
  });

  it('takes base and absolute prefixes for existing environments, without . or .. parts', () => {
    expect(validateEnvRef('base')).toBe('base');
    expect(validateEnvRef('/opt/conda/envs/x/')).toBe('/opt/conda/envs/x');
    expect(refusal(() => validateEnvRef('/opt/conda/../etc')).errorName).toBe('invalid_env_name');
    expect(refusal(() => validateEnvRef('/a/./b')).errorName).toBe('invalid_env_name');
  });
});

describe('match specs', () => {
  it('accepts the MatchSpec forms people type', () => {
    const cases: [string, string, string | null][] = [
      ['numpy', 'numpy', null],
      ['numpy=1.26', 'numpy', null],
      ['numpy==1.26.4', 'numpy', null],
      ['numpy>=1.2,<2', 'numpy', null],
      ['numpy 1.26.* py311*', 'numpy', null],
      ['numpy=1.26.4=py311h64a7726_0', 'numpy', null],
      ["numpy[version='>=1.2,<2',build=py*]", 'numpy', null],
      ['conda-forge::numpy', 'numpy', 'conda-forge'],
      ['conda-forge/linux-64::NumPy>=1', 'numpy', 'conda-forge/linux-64'],
      ['python-dateutil', 'python-dateutil', null],
      ['spyder-kernels>=3.0,<3.1', 'spyder-kernels', null],
    ];
    for (const [spec, name, channel] of cases)
      expect(parseSpec(spec)).toEqual({ spec, name, channel });
  });

  it('refuses options, shell words, paths, package URLs and junk', () => {
    const hostile = [
      '--force',
      '-c',
      'numpy; rm -rf /',
      '$(id)',
      '`id`',
      'numpy\n',
      '/etc/passwd',
      './pkg.tar.bz2',
      'https://evil.example/numpy.tar.bz2',
      'numpy >=1 b extra',
      'numpy[channel=evil]',
      'numpy[version=$(id)]',
      'evil/../x::numpy',
      'numpy @ file:///x',
      '',
      'a'.repeat(501),
    ];
    for (const spec of hostile)
      expect(refusal(() => parseSpec(spec)).errorName).toBe('invalid_spec');
  });

  it('checks bare package names and python versions', () => {
    expect(validatePackageName('sksd-demo')).toBe('sksd-demo');
    expect(refusal(() => validatePackageName('--all')).errorName).toBe('invalid_spec');
    expect(refusal(() => validatePackageName('numpy=1')).errorName).toBe('invalid_spec');
    expect(pythonSpec('3.11').spec).toBe('python=3.11');
    expect(refusal(() => pythonSpec('3.11; id')).errorName).toBe('invalid_spec');
  });
});

describe('channels', () => {
  it('accepts names, https and file URLs', () => {
    for (const c of [
      'conda-forge',
      'pytorch/label/nightly',
      'https://conda.example.org/main',
      'file:///srv/channel',
    ]) {
      expect(validateChannel(c)).toBe(c);
    }
    expect(validateChannel('https://conda.example.org/main/')).toBe(
      'https://conda.example.org/main',
    );
  });

  it('refuses credentials, other schemes, dot segments, queries and options', () => {
    const bad = [
      '-c',
      'http://x.example/c',
      'ftp://x.example/c',
      'https://u:p@x.example/c',
      'https://x.example/t/TOKEN/c',
      'https://x.example/c?q=1',
      'https://x.example/c#f',
      'file:///srv/../etc',
      'a/../b',
      'a b',
      'javascript:alert(1)',
    ];
    for (const c of bad) {
      const error = refusal(() => validateChannel(c));
      expect(error.errorName).toBe('invalid_channel');
      expect(JSON.stringify(error.toWire())).not.toContain('TOKEN');
    }
  });

  it('redacts credentials in conda’s messages', () => {
    const text = 'CondaHTTPError for https://u:secret@h.example/t/tk-123/conda-forge/repodata.json';
    expect(redactUrls(text)).toBe(
      'CondaHTTPError for https://***@h.example/t/<TOKEN>/conda-forge/repodata.json',
    );
  });
});
