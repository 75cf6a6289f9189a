import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelStateFile, type KernelRecord } from '../../src/kernels/state-file.js';
import { captureLogger } from '../helpers/tls.js';

const dir = mkdtempSync('/tmp/sksd-state-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(id: string): KernelRecord {
  return {
    id,
    user: { name: 'alice', uid: 1000 },
    env: 'proj',
    prefix: '/opt/conda/envs/proj',
    cwd: '/home/alice',
    spyderKernels: '2.4.2',
    connection: {
      shell_port: 1,
      iopub_port: 2,
      stdin_port: 3,
      control_port: 4,
      hb_port: 5,
      ip: '127.0.0.1',
      key: 'k'.repeat(64),
      transport: 'tcp',
      signature_scheme: 'hmac-sha256',
      kernel_name: 'spyder-kernel',
    },
    files: { connection: `/run/sksd/kernels/alice/kernel-${id}.json`, log: `/run/x/${id}.log` },
    pgid: 4242,
    ready: true,
    startedAt: new Date(0).toISOString(),
    restarts: 0,
  };
}

describe('the kernel state file', () => {
  it('reads nothing before the first save, then what was saved, private to root', async () => {
    const store = new KernelStateFile(join(dir, 'a.json'), captureLogger().logger);
    expect(await store.load()).toEqual([]);

    await store.save([record('kernel-one')]);
    expect(await store.load()).toEqual([record('kernel-one')]);
    expect(statSync(join(dir, 'a.json')).mode & 0o777).toBe(0o600);
  });

  it('keeps the order of saves and leaves no temporary file', async () => {
    const store = new KernelStateFile(join(dir, 'b.json'), captureLogger().logger);
    const saves = Array.from({ length: 20 }, (_, i) =>
      store.save(Array.from({ length: i + 1 }, (__, j) => record(`kernel-${j}`))),
    );
    await Promise.all(saves);
    expect(await store.load()).toHaveLength(20);
    expect(readdirSync(dir).filter((f) => f.startsWith('b.json'))).toEqual(['b.json']);
  });

  it('moves an unreadable file aside and logs it, and drops a dead writer’s temporary', async () => {
    const { logger, text } = captureLogger();
    const path = join(dir, 'c.json');
    writeFileSync(path, '{"version": 1, "kernels": [{"id": 3}]}');
    writeFileSync(`${path}.12345.tmp`, 'half a');
    const store = new KernelStateFile(path, logger);

    expect(await store.load()).toEqual([]);
    expect(text()).toContain('kernel state file unreadable');
    const left = readdirSync(dir).filter((f) => f.startsWith('c.json'));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^c\.json\.bad-\d+$/);
    expect(readFileSync(join(dir, left[0] as string), 'utf8')).toContain('"id": 3');
  });
});
