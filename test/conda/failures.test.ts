/** conda's JSON documents and failures: actions, lists, channels, and exceptions as codes. */
import { describe, expect, it } from 'vitest';
import { changeOf, channelsOf, packagesOf } from '../../src/conda/conda-json.js';
import { condaFailure, succeeded } from '../../src/conda/failures.js';
import type { CondaOutcome } from '../../src/conda/run-conda.js';

const outcome = (json: unknown, extra: Partial<CondaOutcome> = {}): CondaOutcome => ({
  argv: [],
  exitCode: 1,
  signal: null,
  json,
  stderrTail: '',
  stopped: null,
  durationMs: 5,
  ...extra,
});

const dist = {
  base_url: 'https://conda.anaconda.org/conda-forge',
  build_number: 0,
  build_string: 'py_0',
  channel: 'conda-forge',
  dist_name: 'six-1.16.0-py_0',
  name: 'six',
  platform: 'noarch',
  version: '1.16.0',
};

describe('conda documents', () => {
  it('reads LINK/UNLINK records, old dist strings, and the nothing-to-do message', () => {
    const six = { name: 'six', version: '1.16.0', build: 'py_0', channel: 'conda-forge' };
    expect(
      changeOf({ success: true, actions: { LINK: [dist], UNLINK: ['defaults::six-1.15.0-py_0'] } }),
    ).toEqual({
      link: [six],
      unlink: [{ ...six, version: '1.15.0', channel: 'defaults' }],
      message: null,
    });
    expect(
      changeOf({ success: true, message: 'All requested packages already installed.' }).message,
    ).toContain('All');
    expect(packagesOf([dist])).toEqual([six]);
    expect(packagesOf({})).toBeNull();
  });

  it('reads channels from --get and --show', () => {
    expect(channelsOf({ success: true, get: { channels: ['a'] } })).toEqual({
      own: ['a'],
      shown: null,
    });
    expect(channelsOf({ success: true, get: {} })).toEqual({ own: [], shown: null });
    expect(channelsOf({ channels: ['defaults'] })).toEqual({ own: null, shown: ['defaults'] });
  });
});

describe('conda failures', () => {
  const error = (name: string, message = 'm') => ({
    exception_name: name,
    message,
    error: `${name}: ${message}`,
  });

  it('maps conda’s exception names to codes with conda’s message', () => {
    const cases: [string, string][] = [
      ['PackagesNotFoundError', 'package_not_found'],
      ['LibMambaUnsatisfiableError', 'solver_conflict'],
      ['UnsatisfiableError', 'solver_conflict'],
      ['CondaHTTPError', 'channel_unreachable'],
      ['NoSpaceLeftError', 'disk_full'],
      ['EnvironmentLocationNotFound', 'env_not_found'],
      ['SomethingNew', 'conda_failed'],
    ];
    for (const [name, code] of cases) {
      const e = condaFailure(outcome(error(name, 'why')), 'test');
      expect(e.errorName).toBe(code);
      expect(e.data).toEqual({ exception: name, message: 'why', exitCode: 1, signal: null });
    }
  });

  it('falls back to stderr, recognising a full disk, and to conda_unavailable for exit 127', () => {
    const trace = outcome(null, {
      stderrTail: 'Traceback ...\nOSError: [Errno 28] No space left on device',
    });
    expect(condaFailure(trace, 't').errorName).toBe('disk_full');
    expect(condaFailure(outcome(null, { stderrTail: 'boom' }), 't').data).toMatchObject({
      message: 'boom',
    });
    expect(condaFailure(outcome(null, { exitCode: 127 }), 't').errorName).toBe('conda_unavailable');
  });

  it('trusts neither exit 0 with an error document nor a stopped run', () => {
    expect(succeeded(outcome({ success: true }, { exitCode: 0 }))).toBe(true);
    expect(succeeded(outcome([], { exitCode: 0 }))).toBe(true);
    expect(succeeded(outcome(error('X'), { exitCode: 0 }))).toBe(false);
    expect(succeeded(outcome({ success: true }, { exitCode: 0, stopped: 'terminated' }))).toBe(
      false,
    );
  });
});
