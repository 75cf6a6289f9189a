import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newConnection } from '../../src/kernels/connection-file.js';
import { waitUntilReady } from '../../src/kernels/ready.js';
import { terminateGroup } from '../../src/process/terminate.js';
import type { ConnectionInfo } from '../../src/rpc/methods.js';

const logger = pino({ level: 'silent' });
let dir: string;
let connection: ConnectionInfo;
let kernel: ChildProcess;
let exited = false;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sksd-ready-');
  connection = await newConnection('127.0.0.1');
  const file = join(dir, 'kernel.json');
  writeFileSync(file, JSON.stringify(connection));
  chmodSync(file, 0o600);

  // Debian's kernel directly, without conda: this file is about the wire, not about users.
  const argv = ['-m', 'spyder_kernels.console', '-f', file, '--ip=127.0.0.1'];
  kernel = spawn('/usr/bin/python3', argv, {
    detached: true,
    stdio: 'ignore',
    env: { PATH: '/usr/bin:/bin', HOME: dir, PYDEVD_DISABLE_FILE_VALIDATION: '1' },
  });
  kernel.once('exit', () => (exited = true));
});

afterAll(async () => {
  await terminateGroup({ pgid: kernel.pid as number, leader: kernel, termGraceMs: 2000, logger });
  rmSync(dir, { recursive: true, force: true });
});

describe('waitUntilReady', () => {
  it('gets a signed kernel_info_reply from a real spyder kernel', async () => {
    const deadline = Date.now() + 30_000;
    const info = await waitUntilReady(connection, { deadline, exited: () => exited });
    expect(info).toMatchObject({
      implementation: 'ipython',
      protocolVersion: expect.stringMatching(/^5\./),
    });
  });

  it('does not accept a kernel that does not know our key', async () => {
    const wrong = { ...connection, key: 'f'.repeat(64) };
    const started = Date.now();
    const deadline = Date.now() + 1500;
    expect(await waitUntilReady(wrong, { deadline, exited: () => false })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('gives up early when the process exits', async () => {
    const closed = { ...connection, shell_port: 1 };
    const started = Date.now();
    let calls = 0;
    const deadline = Date.now() + 30_000;
    const info = await waitUntilReady(closed, { deadline, exited: () => ++calls > 3 });
    expect(info).toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
