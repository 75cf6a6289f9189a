import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { liveMembers, readStat, signalGroup } from '../../src/process/group.js';
import { terminateGroup } from '../../src/process/terminate.js';

const logger = pino({ level: 'silent' });
const started: ChildProcess[] = [];

/** A process group led by bash running script; waits until `members` processes are up. */
async function group(script: string, members = 1): Promise<ChildProcess> {
  const child = spawn('/bin/bash', ['-c', script], { detached: true, stdio: 'ignore' });
  started.push(child);
  const pgid = child.pid as number;
  for (let i = 0; i < 100 && (await liveMembers(pgid)).length < members; i++) await sleep(20);
  return child;
}

afterAll(() => {
  for (const child of started) {
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
  }
});

describe('terminateGroup', () => {
  it('reports already_dead for a group that is gone', async () => {
    const child = spawn('/bin/bash', ['-c', 'exit 3'], { detached: true, stdio: 'ignore' });
    await once(child, 'exit');
    const pgid = child.pid as number;
    const outcome = await terminateGroup({ pgid, leader: child, termGraceMs: 500, logger });
    expect(outcome).toMatchObject({ how: 'already_dead', exitCode: 3, signal: null });
  });

  it('SIGTERMs the whole group, the leader’s children included', async () => {
    const child = await group('sleep 300 & sleep 300 & wait', 3);
    const pgid = child.pid as number;
    const outcome = await terminateGroup({ pgid, leader: child, termGraceMs: 2000, logger });

    expect(outcome).toMatchObject({ how: 'terminated', signal: 'SIGTERM', survivors: [] });
    expect(await liveMembers(pgid)).toEqual([]);
  });

  it('kills a group that ignores SIGTERM after the grace period', async () => {
    // An ignored signal stays ignored across exec, so the sleeps ignore SIGTERM too.
    const child = await group("trap '' TERM; sleep 300 & sleep 300; wait", 3);
    const pgid = child.pid as number;
    const outcome = await terminateGroup({ pgid, leader: child, termGraceMs: 300, logger });

    expect(outcome).toMatchObject({ how: 'killed', signal: 'SIGKILL', survivors: [] });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(300);
    expect(await liveMembers(pgid)).toEqual([]);
  });

  it('stops at the polite step when it works', async () => {
    const child = await group('sleep 300 & wait', 2);
    const pgid = child.pid as number;
    const polite = {
      request: async () => signalGroup(pgid, 'SIGUSR1'),
      graceMs: 2000,
    };
    const outcome = await terminateGroup({ pgid, leader: child, polite, termGraceMs: 2e3, logger });
    expect(outcome).toMatchObject({ how: 'requested', signal: 'SIGUSR1' });
  });

  it('escalates soon after an acknowledged request that does not end the process', async () => {
    const child = await group('sleep 300', 1);
    const pgid = child.pid as number;
    const polite = { request: async () => true, graceMs: 5000, settleMs: 200 };
    const outcome = await terminateGroup({ pgid, leader: child, polite, termGraceMs: 2e3, logger });

    expect(outcome.how).toBe('terminated');
    expect(outcome.durationMs).toBeLessThan(2000);
  });

  it('counts zombies as gone', async () => {
    // The forked child exits at once; its parent never waits, so it stays a zombie in the group.
    const code = 'import os, time\nif os.fork() == 0: os._exit(0)\ntime.sleep(300)';
    const child = spawn('/usr/bin/python3', ['-c', code], { detached: true, stdio: 'ignore' });
    started.push(child);
    const pgid = child.pid as number;
    await sleep(500);

    expect(await liveMembers(pgid)).toEqual([pgid]);
    const outcome = await terminateGroup({ pgid, leader: child, termGraceMs: 2000, logger });
    expect(outcome.how).toBe('terminated');
    expect(await readStat(pgid)).toBeNull();
  });
});
