import { appendFileSync, chmodSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { ConnectionInfo } from '../../src/rpc/methods.js';
import {
  ensureUserDir,
  newConnection,
  writeConnectionFile,
} from '../../src/kernels/connection-file.js';
import { createKernelLog, readTail } from '../../src/kernels/log-file.js';
import { createAccount, removeAllTestUsers } from '../helpers/users.js';

let runtime: string;
let user: UserAccount;

beforeAll(async () => {
  runtime = mkdtempSync('/tmp/sksd-runtime-');
  chmodSync(runtime, 0o711);
  user = await createAccount();
});

afterAll(() => {
  removeAllTestUsers();
  rmSync(runtime, { recursive: true, force: true });
});

describe('connection files', () => {
  it('makes a connection with five distinct free ports and a 64-hex-digit key', async () => {
    const connection = await newConnection('127.0.0.1');
    expect(ConnectionInfo.parse(connection)).toEqual(connection);
    const ports = [
      connection.shell_port,
      connection.iopub_port,
      connection.stdin_port,
      connection.control_port,
      connection.hb_port,
    ];
    expect(new Set(ports).size).toBe(5);
    expect(connection.key).toMatch(/^[0-9a-f]{64}$/);
    expect(connection).toMatchObject({ transport: 'tcp', signature_scheme: 'hmac-sha256' });
    expect((await newConnection('127.0.0.1')).key).not.toBe(connection.key);
  });

  it('writes the file 0600 for the user in a 0700 directory of the user', async () => {
    const dir = await ensureUserDir(runtime, user);
    expect(dir).toBe(join(runtime, 'kernels', user.name));
    expect(statSync(dir)).toMatchObject({ uid: user.uid, gid: user.gid, mode: 0o40700 });
    expect(statSync(join(runtime, 'kernels')).mode).toBe(0o40711);
    expect(await ensureUserDir(runtime, user)).toBe(dir);

    const connection = await newConnection('127.0.0.1');
    const path = join(dir, 'kernel-a.json');
    await writeConnectionFile(path, connection, user);
    expect(statSync(path)).toMatchObject({ uid: user.uid, gid: user.gid, mode: 0o100600 });
    expect(ConnectionInfo.parse(JSON.parse(readFileSync(path, 'utf8')))).toEqual(connection);
  });

  it('insists that users can traverse the runtime directory', async () => {
    const closed = mkdtempSync('/tmp/sksd-runtime-closed-');
    try {
      await expect(ensureUserDir(closed, user)).rejects.toThrow(/searchable by users/);
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });

  it('refuses to write through anything planted at the path', async () => {
    const dir = await ensureUserDir(runtime, user);
    const victim = join(runtime, 'victim');
    writeFileSync(victim, 'root only\n', { mode: 0o600 });
    symlinkSync(victim, join(dir, 'kernel-b.json'));

    const connection = await newConnection('127.0.0.1');
    await expect(writeConnectionFile(join(dir, 'kernel-b.json'), connection, user)).rejects.toThrow(
      /EEXIST/,
    );
    expect(readFileSync(victim, 'utf8')).toBe('root only\n');
  });

  it('reads the log tail through its own descriptor, not the path', async () => {
    const dir = await ensureUserDir(runtime, user);
    const path = join(dir, 'kernel-c.log');
    const handle = await createKernelLog(path, user);
    try {
      for (let i = 1; i <= 30; i++) appendFileSync(path, `line ${i}\n`);
      const last20 = Array.from({ length: 20 }, (_, i) => `line ${i + 11}`);
      expect(await readTail(handle)).toEqual(last20);

      // The user swaps the log for a symlink to a secret: the tail is still the kernel's output.
      renameSync(path, join(dir, 'moved'));
      symlinkSync('/etc/shadow', path);
      expect((await readTail(handle, 1))[0]).toBe('line 30');
    } finally {
      await handle.close();
    }
  });
});
