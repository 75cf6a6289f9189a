/**
 * The daemon and a user's kernel inside the parts of the unit's sandbox that can be rebuilt
 * without systemd as PID 1: exactly the unit's CapabilityBoundingSet (read from the unit file, so
 * the two cannot drift apart), NoNewPrivileges, and ProtectSystem=full's read-only /usr and /etc
 * in a mount namespace of their own. Login through PAM, a kernel started as the user and stopped
 * with escalation all have to work with only those capabilities.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { liveMembers } from '../../src/process/group.js';
import { connect, type RpcClient } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import { createEnv, makeCondaRoot, removeCondaRoots, type CondaRoot } from '../helpers/conda.js';
import { CLI } from '../helpers/daemon.js';
import { executeInKernel } from '../helpers/jupyter.js';
import { createUser, isRoot, removeAllTestUsers, type TestUser } from '../helpers/users.js';

const UNIT = readFileSync(new URL('../../packaging/sksd.service', import.meta.url), 'utf8');

const CAPS = (/^CapabilityBoundingSet=(.*)$/m.exec(UNIT)?.[1] ?? '').split(/\s+/).filter(Boolean);

// capability.h numbers of the capabilities a root daemon of this kind might keep.
const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_NET_BIND_SERVICE: 10,
  CAP_AUDIT_WRITE: 29,
};

/** The unit's CapabilityBoundingSet= as setpriv's --bounding-set argument. */
function boundingSetArgument(): string {
  return ['-all', ...CAPS.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
}

/** The same set as /proc/PID/status prints CapBnd. */
function boundingSetMask(): string {
  const bits = CAPS.reduce((mask, cap) => {
    expect(CAP_NUMBERS[cap], `${cap} in CAP_NUMBERS`).toBeDefined();
    return mask | (1n << BigInt(CAP_NUMBERS[cap] ?? 0));
  }, 0n);
  return bits.toString(16).padStart(16, '0');
}

const LISTENING = /listening on 127\.0\.0\.1:(\d+)/;

const PROBE = `
import json
def can_write(path):
    try:
        open(path, "w").close()
        return True
    except OSError as e:
        return e.strerror
lines = open("/proc/self/status").read().splitlines()
status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
print(json.dumps({"nnp": status["NoNewPrivs"].strip(), "bnd": status["CapBnd"].strip(),
                  "eff": status["CapEff"].strip(), "usr": can_write("/usr/lib/sksd-sandbox-probe"),
                  "home": can_write("sandbox-probe")}))
`;

describe.skipIf(!isRoot())('the unit sandbox, rebuilt without systemd', () => {
  const dir = mkdtempSync('/tmp/sksd-sandbox-');
  let conda: CondaRoot;
  let user: TestUser;
  let daemon: ChildProcess;
  let port = 0;
  let fingerprint = '';
  let output = '';

  beforeAll(async () => {
    chmodSync(dir, 0o755);
    user = createUser({ tag: 's' });
    conda = makeCondaRoot();
    createEnv(conda, 'proj');

    const config = join(dir, 'sksd.conf');
    const runtime = join(dir, 'run');
    const settings = {
      listen: { address: '127.0.0.1', port: 0 },
      paths: { state: join(dir, 'state'), runtime },
      conda: { executable: conda.conda },
      mdns: { enabled: false },
    };
    writeFileSync(config, stringify(settings));

    // ProtectSystem=full, then the capabilities and NoNewPrivileges, then the unit's ExecStart.
    const readOnly = 'mount -o bind,ro /usr /usr && mount -o bind,ro /etc /etc && exec "$@"';
    const namespace = ['--mount', '--propagation', 'private', '--', 'sh', '-c', readOnly, 'sh'];
    const caps = ['setpriv', `--bounding-set=${boundingSetArgument()}`, '--no-new-privs', '--'];
    const serve = [process.execPath, CLI, 'serve', '--config', config];
    daemon = spawn('unshare', [...namespace, ...caps, ...serve], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin' },
    });
    daemon.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const deadline = Date.now() + 20_000;
    while (!LISTENING.test(output)) {
      if (daemon.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no start:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    port = Number(LISTENING.exec(output)?.[1]);
    const endpoint = readFileSync(join(runtime, 'sksd.json'), 'utf8');
    fingerprint = (JSON.parse(endpoint) as { fingerprint: string }).fingerprint;
  });

  afterAll(async () => {
    if (daemon?.exitCode === null) {
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      daemon.kill('SIGTERM');
      await exited;
    }
    removeAllTestUsers();
    removeCondaRoots();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, starts a kernel as the user and stops it with only those capabilities', async () => {
    const client: RpcClient = await connect({
      host: '127.0.0.1',
      port,
      pinnedFingerprint: fingerprint,
    });
    await client.call(Methods.login, { user: user.name, password: user.password });
    const started = await client.call(Methods.kernelsStart, { env: 'proj' });

    const run = await executeInKernel(started.connection, PROBE);
    expect(run.status).toBe('ok');
    const seen = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({ nnp: '1', eff: '0000000000000000', home: true });
    expect(seen['usr']).toBe('Read-only file system');
    // The kernel inherits the unit's bounding set, and as a user has no capability in effect.
    expect(seen['bnd']).toBe(boundingSetMask());

    const pid = (await client.call(Methods.kernelsList)).kernels[0]?.pid ?? 0;
    const stopped = await client.call(Methods.kernelsShutdown, { id: started.id });
    expect(['requested', 'terminated', 'killed']).toContain(stopped.outcome);
    expect(await liveMembers(pid)).toEqual([]);
    await client.close();
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) =>
      daemon.once('exit', (code) => resolve(code)),
    );
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).not.toMatch(/"level":(50|60)/);
  });
});
