/**
 * kernels.portRange: real kernels (Debian's spyder-kernels through the conda stand-in) get their
 * connection-file ports from a small range, and a full range refuses the next start with
 * limit_reached before anything is spawned.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { connectionPorts } from '../../src/kernels/connection-file.js';
import { KernelManager } from '../../src/kernels/manager.js';
import { allocateInRange, type PortRange } from '../../src/kernels/port-range.js';
import { createEnv, makeCondaRoot, removeCondaRoots, type CondaRoot } from '../helpers/conda.js';
import { executeInKernel } from '../helpers/jupyter.js';
import { processesOfUid } from '../helpers/system.js';
import { createAccount, removeAllTestUsers } from '../helpers/users.js';
import { expectCode, managerOptions } from './support.js';

const ADDRESS = '127.0.0.1';
// Above Debian's ephemeral range (32768-60999), so no outgoing connection sits in it; 11 ports
// hold two kernels and leave one over.
const FIRST = 61_000 + 100 * Math.floor(Math.random() * 40);
const RANGE: PortRange = { first: FIRST, last: FIRST + 10 };
const inRange = (port: number) => port >= RANGE.first && port <= RANGE.last;

let root: CondaRoot;
let runtime: string;
let alice: UserAccount;
let manager: KernelManager;

/** Listening TCP ports of the uid's sockets, from ss. */
function listeningPorts(uid: number): number[] {
  const out = execFileSync('ss', ['-ltnHe'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(` uid:${uid} `))
    .map((line) => line.split(/\s+/)[3] ?? '')
    .map((local) => Number(local.slice(local.lastIndexOf(':') + 1)));
}

beforeAll(async () => {
  root = makeCondaRoot();
  createEnv(root, 'work');
  runtime = mkdtempSync('/tmp/sksd-run-');
  chmodSync(runtime, 0o711);
  alice = await createAccount({ tag: 'p' });
  manager = new KernelManager({ ...managerOptions(root, runtime, 3), portRange: RANGE });
});

afterAll(async () => {
  await manager.shutdownAll();
  removeAllTestUsers();
  removeCondaRoots();
  rmSync(runtime, { recursive: true, force: true });
});

describe('kernels.portRange', () => {
  const started: string[] = [];

  it('gives each kernel five distinct ports inside the range, which it really binds', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await manager.start({ user: alice, env: 'work', address: ADDRESS });
      started.push(result.id);
      expect(connectionPorts(result.connection).every(inRange)).toBe(true);
    }
    const ports = manager.list(alice).flatMap((k) => connectionPorts(k.connection));
    expect(new Set(ports).size).toBe(10);

    const [one] = manager.list(alice);
    const run = await executeInKernel(one?.connection as never, 'print(6 * 7)');
    expect(run.stdout.trim()).toBe('42');

    // Seven listening sockets per kernel: the five of the file, and the comm socket and output
    // pipe that spyder-kernels and ipykernel bind on ports the OS picks (FIELD-NOTES.md).
    const bound = listeningPorts(alice.uid);
    expect(bound.filter(inRange).sort()).toEqual([...ports].sort());
    expect(bound.filter((p) => !inRange(p))).toHaveLength(4);
  });

  it('refuses a start the range has no room for, leaving nothing behind', async () => {
    const processes = processesOfUid(alice.uid).length;
    const files = readdirSync(join(runtime, 'kernels', alice.name)).sort();

    const error = await expectCode(
      manager.start({ user: alice, env: 'work', address: ADDRESS }),
      'limit_reached',
    );
    expect(error.toWire().data).toMatchObject({ scope: 'ports', limit: 2, ...RANGE });
    expect(manager.list(alice).map((k) => k.id)).toEqual(started);
    expect(processesOfUid(alice.uid)).toHaveLength(processes);
    expect(readdirSync(join(runtime, 'kernels', alice.name)).sort()).toEqual(files);
  });

  it('reuses the ports of a stopped kernel at once; a restart keeps its own', async () => {
    const [gone, kept] = started as [string, string];
    const summary = manager.list(alice).find((k) => k.id === kept);
    const keptPorts = connectionPorts(summary?.connection as never);
    const restarted = await manager.restart(alice, kept);
    expect(connectionPorts(restarted.connection)).toEqual(keptPorts);

    await manager.shutdown(alice, gone);
    const next = await manager.start({ user: alice, env: 'work', address: ADDRESS });
    expect(connectionPorts(next.connection).every(inRange)).toBe(true);
    expect(connectionPorts(next.connection)).not.toEqual(expect.arrayContaining(keptPorts));
  });
});

describe('allocateInRange', () => {
  it('skips ports another process holds and ports of known kernels', async () => {
    const range = { first: FIRST + 50, last: FIRST + 56 };
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(range.first, ADDRESS, resolve));
    try {
      const busy = new Set([range.first + 1]);
      const ports = await allocateInRange(ADDRESS, 5, range, busy, new Map());
      expect(ports.sort()).toEqual([2, 3, 4, 5, 6].map((i) => range.first + i));

      // Handed out a moment ago: a start between allocation and registration holds them.
      const recent = new Map([[range.first + 2, Date.now()]]);
      await expectCode(allocateInRange(ADDRESS, 5, range, busy, recent), 'limit_reached');
    } finally {
      holder.close();
    }
  });
});

describe('the kernels.portRange setting', () => {
  const parse = (portRange: unknown) => ConfigSchema.safeParse({ kernels: { portRange } });

  it('takes null or a range of at least five ports within 1024..65535', () => {
    expect(parse(null).success).toBe(true);
    expect(parse({ first: 40_000, last: 40_999 }).success).toBe(true);
    expect(parse({ first: 40_000, last: 40_004 }).success).toBe(true);
    expect(parse({ first: 40_000, last: 40_003 }).success).toBe(false);
    expect(parse({ first: 40_999, last: 40_000 }).success).toBe(false);
    expect(parse({ first: 1000, last: 2000 }).success).toBe(false);
    expect(parse({ first: 65_000, last: 65_536 }).success).toBe(false);
    expect(parse({ first: 40_000 }).success).toBe(false);
  });
});
