/**
 * The systemd unit as shipped: its exposure score (systemd-analyze security, offline, since
 * systemd is not PID 1 on the test machines), the lifecycle directives the daemon relies on, and
 * docs/operations.md kept in step with it (every directive kept or refused is explained there,
 * every wire error and every live reload key has its entry).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIVE_KEYS } from '../../src/daemon/reload.js';
import { ErrorCodes } from '../../src/rpc/errors.js';

const UNIT = fileURLToPath(new URL('../../packaging/sksd.service', import.meta.url));
const OPERATIONS = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

/** The unit's directives: name -> every value given, in order. */
function parseUnit(text: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, name = '', value = ''] = match;
    directives.set(name, [...(directives.get(name) ?? []), value]);
  }
  return directives;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const one = (name: string): string | undefined => unit.get(name)?.at(-1);

/** The section of operations.md under a heading, up to the next heading of any level. */
function section(heading: string): string {
  const start = OPERATIONS.indexOf(`${heading}\n`);
  expect(start, `docs/operations.md has "${heading}"`).toBeGreaterThanOrEqual(0);
  const rest = OPERATIONS.slice(start + heading.length);
  const end = rest.search(/\n#{2,4} /);
  return end < 0 ? rest : rest.slice(0, end);
}

describe('sksd.service', () => {
  it('rates 3.5 or better with systemd-analyze security', () => {
    const run = spawnSync(
      'systemd-analyze',
      ['security', '--offline=yes', '--threshold=35', '--no-pager', UNIT],
      { encoding: 'utf8' },
    );
    const score = /Overall exposure level for sksd\.service: ([\d.]+)/.exec(run.stdout)?.[1];
    expect(Number(score)).toBeLessThanOrEqual(3.5);
    // The printed score is rounded; the exit status compares the exact one with 35 (of 100).
    expect(
      run.status,
      run.stdout
        .split('\n')
        .filter((l) => l.startsWith('✗'))
        .join('\n'),
    ).toBe(0);
  });

  it('reports readiness itself and keeps notifications to the main process', () => {
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('main');
    expect(one('ExecStart')).toBe('/usr/bin/sksd serve --config /etc/sksd.conf');
    expect(unit.get('ExecReload')).toEqual([
      '/usr/bin/sksd config check /etc/sksd.conf',
      '/bin/kill -HUP $MAINPID',
    ]);
  });

  it('lets the daemon stop its kernels, with time for it, and restarts it within a limit', () => {
    expect(one('KillMode')).toBe('mixed');
    // The daemon's own deadline with default settings: 2 x shutdownGrace (5 s) + 15 s.
    expect(Number.parseInt(one('TimeoutStopSec') ?? '0', 10)).toBeGreaterThan(25);
    expect(one('Restart')).toBe('on-failure');
    expect(Number(one('StartLimitBurst'))).toBeGreaterThan(0);
    expect(one('RestartPreventExitStatus')).toBe('78');
    expect(one('OOMPolicy')).toBe('continue');
  });

  it('leaves out what would break users\u2019 kernels', () => {
    for (const name of [
      'PrivateDevices',
      'DeviceAllow',
      'DevicePolicy',
      'ProtectHome',
      'PrivateTmp',
      'MemoryDenyWriteExecute',
      'ProtectProc',
      'ProcSubset',
      'PrivateUsers',
      'User',
      'DynamicUser',
      'PrivateNetwork',
    ]) {
      expect(unit.has(name), name).toBe(false);
    }
    expect(one('ProtectSystem')).toBe('full');
  });

  it('is accepted by systemd-analyze apart from files only the package installs', () => {
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', UNIT], { encoding: 'utf8' });
    const problems = run.stderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.includes('/usr/bin/sksd is not executable'));
    expect(problems).toEqual([]);
  });
});

describe('docs/operations.md', () => {
  it('explains every directive of the unit', () => {
    const table =
      section('### Start, readiness, reload, stop') + section('### Hardening: what is kept');
    for (const name of unit.keys()) {
      if (['Description', 'Documentation', 'After', 'Wants', 'WantedBy'].includes(name)) continue;
      expect(table, `${name}= is explained`).toContain(`\`${name}=\``);
    }
  });

  it('gives a reason for each directive refused, none of which the unit sets', () => {
    const refused = section('### Hardening: what is refused');
    const names = [...refused.matchAll(/^\| ([^|]+) \|/gm)].flatMap(([, cell = '']) =>
      [...cell.matchAll(/`([A-Za-z]+)=`/g)].map(([, name]) => name as string),
    );
    expect(names.length).toBeGreaterThan(8);
    for (const name of names) expect(unit.has(name), `${name}= is refused`).toBe(false);
  });

  it('has a troubleshooting entry for every wire error', () => {
    const table = section('### Errors clients report');
    for (const [name, { code }] of Object.entries(ErrorCodes)) {
      expect(table, name).toContain(`| ${code} | \`${name}\` |`);
    }
  });

  it('lists every setting a reload applies at once', () => {
    const live = section('## Changing the configuration');
    for (const key of LIVE_KEYS) {
      // A whole section is written `section.*`.
      expect(live.includes(`\`${key}\``) || live.includes(`\`${key}.*\``), key).toBe(true);
    }
  });
});
